//! The offer picker behind Grant Offer and Revoke Offer (More Actions):
//! type part of an offer's name, move with the arrows, Enter picks. Grant
//! lists the offers the contact does not hold (loaded through desk when the
//! picker opens); Revoke lists the ones they hold (from the profile).

use tui_input::Input;

use super::profile_view::Target;

/// One offer the picker can choose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferChoice {
    /// Title, sanitised.
    pub name: String,
    /// Products, sanitised.
    pub products: String,
}

/// Which action the picked offer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickFor {
    /// Grant Offer.
    Grant,
    /// Revoke Offer.
    Revoke,
}

impl PickFor {
    /// The dialog's title.
    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            Self::Grant => "Grant Offer",
            Self::Revoke => "Revoke Offer",
        }
    }
}

/// The picker's state.
#[derive(Debug, Clone)]
pub struct OfferPicker {
    /// Whom it is about.
    pub target: Target,
    /// Grant or revoke.
    pub purpose: PickFor,
    /// The typed part of a name.
    pub input: Input,
    /// Every candidate; `None` while they load.
    pub choices: Option<Vec<OfferChoice>>,
    /// The highlighted line among the matching ones.
    pub selected: usize,
    /// Why the offers could not be loaded.
    pub error: Option<String>,
}

impl OfferPicker {
    /// A picker for `purpose`; `choices` is `None` until they are loaded.
    #[must_use]
    pub fn new(target: Target, purpose: PickFor, choices: Option<Vec<OfferChoice>>) -> Self {
        Self {
            target,
            purpose,
            input: Input::default(),
            choices,
            selected: 0,
            error: None,
        }
    }

    /// The candidates whose name contains the typed text (any case), in order.
    #[must_use]
    pub fn matching(&self) -> Vec<&OfferChoice> {
        let needle = self.input.value().trim().to_lowercase();
        self.choices
            .iter()
            .flatten()
            .filter(|c| c.name.to_lowercase().contains(&needle))
            .collect()
    }

    /// The highlighted candidate, if any matches.
    #[must_use]
    pub fn picked(&self) -> Option<&OfferChoice> {
        self.matching().get(self.selected).copied()
    }

    /// Moves the highlight by `by` lines, wrapping.
    pub fn step(&mut self, by: isize) {
        let n = self.matching().len();
        if n == 0 {
            self.selected = 0;
            return;
        }
        let n = isize::try_from(n).unwrap_or(isize::MAX);
        let at = isize::try_from(self.selected).unwrap_or(0);
        self.selected = usize::try_from((at + by).rem_euclid(n)).unwrap_or(0);
    }

    /// After the text changed: the highlight goes back to the first match.
    pub fn text_changed(&mut self) {
        self.selected = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picker() -> OfferPicker {
        let choice = |name: &str| OfferChoice {
            name: name.into(),
            products: String::new(),
        };
        OfferPicker::new(
            Target {
                contact_id: 1,
                name: "Cleo".into(),
                email: "cleo@example.com".into(),
                customer: false,
            },
            PickFor::Grant,
            Some(vec![
                choice("Course"),
                choice("Rust Mastery"),
                choice("Rust Basics"),
            ]),
        )
    }

    #[test]
    fn typing_narrows_and_the_arrows_wrap_over_the_matches() {
        let mut p = picker();
        assert_eq!(p.matching().len(), 3);
        p.input = Input::new("RUST".into());
        p.text_changed();
        assert_eq!(p.picked().unwrap().name, "Rust Mastery");
        p.step(1);
        assert_eq!(p.picked().unwrap().name, "Rust Basics");
        p.step(1);
        assert_eq!(p.picked().unwrap().name, "Rust Mastery");
        p.step(-1);
        assert_eq!(p.picked().unwrap().name, "Rust Basics");
        p.input = Input::new("python".into());
        p.text_changed();
        assert!(p.picked().is_none());
    }
}
