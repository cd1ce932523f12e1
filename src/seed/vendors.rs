//! The demo vendors: four of different kinds, with their contacts and the evaluation that
//! selected each.

pub(super) struct Vendor {
    pub(super) name: &'static str,
    pub(super) legal_name: &'static str,
    pub(super) website: &'static str,
    pub(super) industry: &'static str,
    pub(super) tier: &'static str,
    pub(super) status: &'static str,
    pub(super) contact: (&'static str, &'static str, &'static str),
    /// Scores for the five default criteria, the decision and its rationale.
    pub(super) evaluation: ([i32; 5], &'static str, &'static str),
}

pub(super) const VENDORS: &[Vendor] = &[
    Vendor {
        name: "Northwind IT Services",
        legal_name: "Northwind IT Services GmbH",
        website: "https://northwind-it.example",
        industry: "Managed services",
        tier: "high",
        status: "active",
        contact: (
            "Greta Nord",
            "greta.nord@northwind-it.example",
            "+49 30 5550 100",
        ),
        evaluation: (
            [5, 4, 4, 3, 4],
            "selected",
            "Ten years of service desks for firms our size; references were warm. Security posture is adequate, with ISO 27001 due next year.",
        ),
    },
    Vendor {
        name: "Bluepeak Cloud",
        legal_name: "Bluepeak Cloud Operations Inc.",
        website: "https://bluepeak.example",
        industry: "Cloud operations",
        tier: "critical",
        status: "active",
        contact: ("Dana Whitfield", "dana@bluepeak.example", "+1 212 555 0142"),
        evaluation: (
            [4, 5, 4, 5, 3],
            "selected",
            "Strongest security and compliance record of the three bidders; time-zone distance is the main risk.",
        ),
    },
    Vendor {
        name: "Kestrel Software",
        legal_name: "Kestrel Software Pvt. Ltd.",
        website: "https://kestrel.example",
        industry: "Software development",
        tier: "medium",
        status: "onboarding",
        contact: ("Arjun Mehta", "arjun@kestrel.example", "+91 80 5550 7788"),
        evaluation: (
            [3, 3, 4, 3, 5],
            "on_hold",
            "Good cultural fit and references; we wait for their SOC 2 report before the portal rebuild starts.",
        ),
    },
    Vendor {
        name: "Sentinel Security",
        legal_name: "Sentinel Security Ltd",
        website: "https://sentinel-sec.example",
        industry: "Security operations",
        tier: "high",
        status: "active",
        contact: (
            "Olivia Grant",
            "olivia@sentinel-sec.example",
            "+44 20 5550 3300",
        ),
        evaluation: (
            [4, 4, 5, 5, 4],
            "selected",
            "Round-the-clock SOC with a clean audit history; the best references we collected.",
        ),
    },
];
