//! Edit contact (`e` on a profile; admins): the name and email fields,
//! Save and Cancel. Saving first shows a confirmation with the old and the
//! new values; desk checks the email and decides.

use tui_input::Input;

use super::profile_view::Target;

/// The fields, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditField {
    /// The name input.
    Name,
    /// The email input.
    Email,
    /// Save.
    Save,
    /// Cancel.
    Cancel,
}

impl EditField {
    /// The next field in Tab order.
    #[must_use]
    pub fn next(self) -> Self {
        match self {
            Self::Name => Self::Email,
            Self::Email => Self::Save,
            Self::Save => Self::Cancel,
            Self::Cancel => Self::Name,
        }
    }
    /// The previous field in Tab order.
    #[must_use]
    pub fn prev(self) -> Self {
        match self {
            Self::Name => Self::Cancel,
            Self::Email => Self::Name,
            Self::Save => Self::Email,
            Self::Cancel => Self::Save,
        }
    }
}

/// The Edit contact dialog.
#[derive(Debug, Clone)]
pub struct EditContact {
    /// Whom it is about (name and email as they are now).
    pub target: Target,
    /// The name being typed.
    pub name: Input,
    /// The email being typed.
    pub email: Input,
    /// The focused field.
    pub focus: EditField,
    /// Why Save was refused (nothing changed, desk's answer).
    pub error: Option<String>,
    /// The contact's current name and email are on their way (opened from
    /// the list, where the profile is not on screen); the fields are empty
    /// and take no keys until they arrive.
    pub loading: bool,
}

impl EditContact {
    /// The dialog, filled with the contact's current values.
    #[must_use]
    pub fn new(target: Target) -> Self {
        Self {
            name: Input::new(target.name.clone()),
            email: Input::new(target.email.clone()),
            target,
            focus: EditField::Name,
            error: None,
            loading: false,
        }
    }

    /// The dialog waiting for the contact's current values.
    #[must_use]
    pub fn loading(target: Target) -> Self {
        Self {
            name: Input::default(),
            email: Input::default(),
            loading: true,
            ..Self::new(target)
        }
    }

    /// The input with focus, if a text field has it.
    pub fn focused_input(&mut self) -> Option<&mut Input> {
        match self.focus {
            EditField::Name => Some(&mut self.name),
            EditField::Email => Some(&mut self.email),
            EditField::Save | EditField::Cancel => None,
        }
    }

    /// What Save would change: the new name and the new email, each only
    /// when it differs from the current one; `None` when nothing changes.
    #[must_use]
    pub fn changes(&self) -> Option<(Option<String>, Option<String>)> {
        let name = self.name.value().trim();
        let email = self.email.value().trim();
        let name = (name != self.target.name).then(|| name.to_owned());
        let email = (email != self.target.email).then(|| email.to_owned());
        (name.is_some() || email.is_some()).then_some((name, email))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_differs_is_a_change() {
        let mut d = EditContact::new(Target {
            contact_id: 1,
            name: "Cleo Park".into(),
            email: "cleo@example.com".into(),
            customer: true,
        });
        assert_eq!(d.changes(), None);
        d.email = Input::new(" cleo@new.example.org ".into());
        assert_eq!(
            d.changes(),
            Some((None, Some("cleo@new.example.org".into())))
        );
        d.focus = d.focus.next().next().next().next();
        assert_eq!(d.focus, EditField::Name);
        assert!(d.focused_input().is_some());
    }
}
