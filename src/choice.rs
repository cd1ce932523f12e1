//! Closed sets of values stored as text (a tier, a status, a cadence): one macro gives each
//! its stored name, its label, the list for a form's options and a strict parser.

/// `choice!(pub Tier { Critical = "critical" / "Critical", ... })`
#[macro_export]
macro_rules! choice {
    ($vis:vis $name:ident { $($variant:ident = $stored:literal / $label:literal),+ $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
        #[serde(into = "&'static str")]
        $vis enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $stored),+ }
            }

            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }

            pub fn parse(value: &str) -> Option<$name> {
                match value { $($stored => Some($name::$variant),)+ _ => None }
            }

            /// The options with an empty first choice that asks for one.
            pub fn options_with_prompt() -> Vec<(String, String)> {
                let mut options = vec![(String::new(), "Choose".to_string())];
                options.extend($name::options());
                options
            }

            /// (stored, label) pairs for a form's select.
            pub fn options() -> Vec<(String, String)> {
                $name::ALL.iter().map(|v| (v.as_str().to_string(), v.label().to_string())).collect()
            }
        }

        impl From<$name> for &'static str {
            fn from(value: $name) -> &'static str {
                value.as_str()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.label())
            }
        }
    };
}
