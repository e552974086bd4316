//! The site's page templates: built into the binary from `assets/site`,
//! each one replaceable by a file of the same name in `site.templates_dir`
//! so that an operator can match their brand and language.
//!
//! minijinja escapes every `{{ value }}` in `.html` templates. A page is
//! rendered on its own, then placed inside `layout.html` as already-safe
//! markup; that keeps one layout without needing template inheritance.

use std::path::Path;

use minijinja::{Environment, Value, context};
use serde::Serialize;

/// Every template the site uses, with its built-in text.
const BUILT_IN: &[(&str, &str)] = &[
    ("layout.html", include_str!("../../assets/site/layout.html")),
    ("login.html", include_str!("../../assets/site/login.html")),
    ("forgot.html", include_str!("../../assets/site/forgot.html")),
    ("reset.html", include_str!("../../assets/site/reset.html")),
    (
        "link_problem.html",
        include_str!("../../assets/site/link_problem.html"),
    ),
    (
        "password_new.html",
        include_str!("../../assets/site/password_new.html"),
    ),
    (
        "account.html",
        include_str!("../../assets/site/account.html"),
    ),
    ("error.html", include_str!("../../assets/site/error.html")),
];

/// The built-in stylesheet (`/site.css`).
const BUILT_IN_CSS: &str = include_str!("../../assets/site/site.css");

/// Why the templates could not be loaded or a page rendered.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// An override file exists but cannot be read.
    #[error("site template {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A template does not parse, or failed while rendering.
    #[error("site template {name}: {source}")]
    Template {
        /// The template's name.
        name: String,
        /// minijinja's account, with the line.
        source: minijinja::Error,
    },
}

/// What every page shows about the site itself.
#[derive(Debug, Clone, Serialize)]
pub struct Brand {
    /// `site.name`.
    pub name: String,
    /// `site.logo_url`; empty for none.
    pub logo_url: String,
    /// The path part of `site.base_url` without its trailing slash (empty
    /// when the site is at the root); every link on a page starts with it.
    pub base: String,
}

/// The loaded templates and stylesheet.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
    css: String,
    brand: Brand,
    /// `brand` as templates see it (`site.name`, `site.logo_url`, `site.base`).
    site: Value,
    lang: String,
}

impl Templates {
    /// Loads the built-in templates, replacing each with the file of the
    /// same name in `dir` when there is one (`site.css` too). Every
    /// template is parsed now, so a broken override stops the start with a
    /// message naming the file and line instead of failing on a request.
    ///
    /// # Errors
    /// An override that cannot be read or does not parse.
    pub fn load(dir: &str, brand: Brand) -> Result<Self, TemplateError> {
        let dir = (!dir.is_empty()).then(|| Path::new(dir));
        let mut env = Environment::new();
        for (name, text) in BUILT_IN {
            let source = match dir.map(|d| d.join(name)).filter(|p| p.is_file()) {
                Some(path) => read(&path)?,
                None => (*text).to_owned(),
            };
            env.add_template_owned(*name, source)
                .map_err(|source| TemplateError::Template {
                    name: (*name).to_owned(),
                    source,
                })?;
        }
        let css = match dir.map(|d| d.join("site.css")).filter(|p| p.is_file()) {
            Some(path) => read(&path)?,
            None => BUILT_IN_CSS.to_owned(),
        };
        // An override may say which language its text is in; English otherwise.
        let lang = dir
            .map(|d| d.join("lang"))
            .filter(|p| p.is_file())
            .and_then(|p| std::fs::read_to_string(p).ok())
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
            .unwrap_or_else(|| "en".to_owned());
        // The base path was checked to hold only URL-safe characters, so
        // it goes into links as it is rather than entity-escaped.
        let site = context! {
            name => &brand.name,
            logo_url => &brand.logo_url,
            base => Value::from_safe_string(brand.base.clone()),
        };
        Ok(Self {
            env,
            css,
            brand,
            site,
            lang,
        })
    }

    /// Renders `name` with `page` (a serialisable context) inside the layout.
    ///
    /// # Errors
    /// A template that fails while rendering (an override using a missing
    /// filter, say).
    pub fn render(&self, name: &str, title: &str, page: Value) -> Result<String, TemplateError> {
        let wrap = |name: &str| {
            let name = name.to_owned();
            move |source| TemplateError::Template { name, source }
        };
        let ctx = context! { site => &self.site, title => title, ..page };
        let content = self
            .env
            .get_template(name)
            .and_then(|t| t.render(&ctx))
            .map_err(wrap(name))?;
        self.env
            .get_template("layout.html")
            .and_then(|t| {
                t.render(context! {
                    site => &self.site,
                    title => title,
                    lang => &self.lang,
                    content => Value::from_safe_string(content),
                })
            })
            .map_err(wrap("layout.html"))
    }

    /// The stylesheet.
    #[must_use]
    pub fn css(&self) -> &str {
        &self.css
    }

    /// The site's name and logo.
    #[must_use]
    pub fn brand(&self) -> &Brand {
        &self.brand
    }
}

fn read(path: &Path) -> Result<String, TemplateError> {
    std::fs::read_to_string(path).map_err(|source| TemplateError::Read {
        path: path.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brand() -> Brand {
        Brand {
            name: "Acme <Courses>".into(),
            logo_url: String::new(),
            base: String::new(),
        }
    }

    #[test]
    fn built_in_pages_render_with_labels_and_escaping() {
        let t = Templates::load("", brand()).unwrap();
        let html = t
            .render(
                "login.html",
                "Log in",
                context! { csrf => "tok", email => "<x@y>", error => "", notice => "" },
            )
            .unwrap();
        assert!(html.contains("<label for=\"email\">Email</label>"));
        assert!(html.contains("<label for=\"password\">Password</label>"));
        assert!(html.contains(">Log in</button>"));
        assert!(html.contains(">Forgot Password</a>"));
        assert!(html.contains("Acme &lt;Courses&gt;"), "{html}");
        assert!(html.contains("value=\"&lt;x@y&gt;\""), "{html}");
        assert!(!html.contains("<x@y>"));
    }

    #[test]
    fn an_override_folder_replaces_a_template_and_the_css() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("login.html"),
            "<h1>Connexion</h1>{{ csrf }}",
        )
        .unwrap();
        std::fs::write(dir.path().join("site.css"), "body{}").unwrap();
        std::fs::write(dir.path().join("lang"), "fr\n").unwrap();
        let t = Templates::load(dir.path().to_str().unwrap(), brand()).unwrap();
        let html = t
            .render("login.html", "Connexion", context! { csrf => "abc" })
            .unwrap();
        assert!(html.contains("<h1>Connexion</h1>abc"));
        assert!(html.contains("<html lang=\"fr\">"));
        assert_eq!(t.css(), "body{}");
        // Templates without an override stay built in.
        let forgot = t
            .render("forgot.html", "Forgot Password", context! { csrf => "x" })
            .unwrap();
        assert!(forgot.contains("Forgot Password"));
    }

    #[test]
    fn a_broken_override_names_its_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("account.html"), "{% if %}").unwrap();
        let err = Templates::load(dir.path().to_str().unwrap(), brand()).unwrap_err();
        assert!(err.to_string().contains("account.html"), "{err}");
    }
}
