//! Vendors: who the organisation works with, how critical each is, where the relationship
//! stands, and the due-diligence evaluations behind choosing them.

pub mod evaluations;
pub mod pages;

use serde::Serialize;

use crate::choice;
use crate::web::form::FieldErrors;
use crate::web::routes::Routes;
use crate::web::validate;

choice!(pub Tier {
    Critical = "critical" / "Critical",
    High = "high" / "High",
    Medium = "medium" / "Medium",
    Low = "low" / "Low",
});

choice!(pub VendorStatus {
    Prospect = "prospect" / "Prospect",
    Onboarding = "onboarding" / "Onboarding",
    Active = "active" / "Active",
    Offboarding = "offboarding" / "Offboarding",
    Exited = "exited" / "Exited",
});

/// The vendor form as typed.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct VendorForm {
    pub name: String,
    pub legal_name: String,
    pub website: String,
    pub industry: String,
    pub tier: String,
    pub status: String,
    pub contact_name: String,
    pub contact_email: String,
    pub contact_phone: String,
    pub notes: String,
    /// Present when the admin confirmed that exiting disables the vendor's users.
    pub confirm_exit: String,
}

/// A vendor's fields once valid; also what the audit log records before and after a change.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct VendorFields {
    pub name: String,
    pub legal_name: String,
    pub website: String,
    pub industry: String,
    pub tier: Tier,
    pub status: VendorStatus,
    pub contact_name: String,
    pub contact_email: String,
    pub contact_phone: String,
    pub notes: String,
}

impl VendorForm {
    /// Every field checked at once: the vendor's fields, or every error.
    pub fn parse(&self) -> Result<VendorFields, FieldErrors> {
        let mut errors = FieldErrors::default();
        let name = validate::required(
            &mut errors,
            "name",
            &self.name,
            200,
            "Enter the vendor's name.",
        );
        let legal_name = validate::optional(&mut errors, "legal_name", &self.legal_name, 300);
        let website = validate::optional_url(&mut errors, "website", &self.website);
        let industry = validate::optional(&mut errors, "industry", &self.industry, 200);
        let tier = validate::choice(
            &mut errors,
            "tier",
            &self.tier,
            Tier::parse,
            "Choose a criticality tier.",
        );
        let status = validate::choice(
            &mut errors,
            "status",
            &self.status,
            VendorStatus::parse,
            "Choose a status.",
        );
        let contact_name = validate::optional(&mut errors, "contact_name", &self.contact_name, 200);
        let contact_email =
            validate::optional_email(&mut errors, "contact_email", &self.contact_email);
        let contact_phone =
            validate::optional(&mut errors, "contact_phone", &self.contact_phone, 50);
        let notes = validate::optional(&mut errors, "notes", &self.notes, 5000);
        match (tier, status) {
            (Some(tier), Some(status)) if errors.is_empty() => Ok(VendorFields {
                name,
                legal_name,
                website,
                industry,
                tier,
                status,
                contact_name,
                contact_email,
                contact_phone,
                notes,
            }),
            _ => Err(errors),
        }
    }

    pub fn from_fields(fields: &VendorFields) -> VendorForm {
        VendorForm {
            name: fields.name.clone(),
            legal_name: fields.legal_name.clone(),
            website: fields.website.clone(),
            industry: fields.industry.clone(),
            tier: fields.tier.as_str().to_string(),
            status: fields.status.as_str().to_string(),
            contact_name: fields.contact_name.clone(),
            contact_email: fields.contact_email.clone(),
            contact_phone: fields.contact_phone.clone(),
            notes: fields.notes.clone(),
            confirm_exit: String::new(),
        }
    }
}

/// The routes of vendors.
pub fn routes() -> Routes {
    Routes::new()
        .get("/admin/criteria", evaluations::criteria)
        .post("/admin/criteria", evaluations::save_criteria)
        .get("/vendors", pages::list)
        .get("/vendors/new", pages::new)
        .post("/vendors/new", pages::create)
        .get("/vendors/{id}", pages::show)
        .get("/vendors/{id}/edit", pages::edit)
        .post("/vendors/{id}/edit", pages::update)
        .get("/vendors/{id}/evaluations/new", evaluations::new)
        .post("/vendors/{id}/evaluations/new", evaluations::create)
        .get("/evaluations/{id}", evaluations::show)
}
