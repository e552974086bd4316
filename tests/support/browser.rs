//! A real headless Chromium driven over WebDriver (chromedriver) with
//! fantoccini, for the browser tests; Chromium and chromedriver come from
//! Debian (`apt-get install chromium chromium-driver`).

use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

pub fn find_binary(candidates: &[&str]) -> Option<String> {
    candidates
        .iter()
        .find(|p| std::path::Path::new(p).exists())
        .map(|p| (*p).to_owned())
}

/// chromedriver and one headless Chromium session; both end on drop.
pub struct Browser {
    pub client: Client,
    driver: tokio::process::Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts a browser with the usual headless flags.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// Starts a browser with `extra` Chromium flags after the usual ones
    /// (e.g. a host resolver rule, a certificate key to accept); a later
    /// `--disable-features` replaces the usual one.
    pub async fn start_with(extra: &[String]) -> Self {
        let driver_bin = find_binary(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"])
            .expect("chromedriver is missing: apt-get install -y chromium chromium-driver");
        let chromium = find_binary(&["/usr/lib/chromium/chromium", "/usr/bin/chromium"])
            .expect("chromium is missing: apt-get install -y chromium chromium-driver");
        let port = super::process::free_port();
        let driver = tokio::process::Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start chromedriver");
        let webdriver = format!("http://127.0.0.1:{port}");
        super::process::wait_listening(port, "chromedriver").await;
        let profile = tempfile::tempdir().expect("profile dir");
        let mut args: Vec<String> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
            "--disable-features=PasswordLeakDetection,Translate",
            "--window-size=1024,800",
        ]
        .iter()
        .map(|a| (*a).to_owned())
        .collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        args.extend(extra.iter().cloned());
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": args,
                "prefs": {
                    "credentials_enable_service": false,
                    "profile.password_manager_enabled": false
                }
            }),
        );
        let mut last_err = String::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = loop {
            match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&webdriver)
                .await
            {
                Ok(client) => break client,
                Err(err) => {
                    last_err = err.to_string();
                    assert!(
                        Instant::now() < deadline,
                        "no WebDriver session: {last_err}"
                    );
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        };
        let _ = last_err;
        Self {
            client,
            driver,
            _profile: profile,
        }
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill().await;
    }

    pub async fn go(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    /// The input a `<label>` with exactly this text points at.
    pub async fn field(&self, label: &str) -> Element {
        let xpath = format!("//label[normalize-space(.)='{label}']");
        let here = self.url().await;
        let label_el = self
            .client
            .find(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|_| panic!("no label {label:?} on {here}"));
        let id = label_el
            .attr("for")
            .await
            .expect("label for")
            .expect("label has a for attribute");
        self.client
            .find(Locator::Id(&id))
            .await
            .unwrap_or_else(|_| panic!("label {label:?} points at no input"))
    }

    pub async fn fill(&self, label: &str, text: &str) {
        let input = self.field(label).await;
        input.clear().await.expect("clear");
        input.send_keys(text).await.expect("type");
    }

    /// Clicks the button with exactly this text, and waits for the next page.
    pub async fn press(&self, text: &str) {
        let xpath = format!("//button[normalize-space(.)='{text}']");
        let here = self.url().await;
        let button = self
            .client
            .find(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|_| panic!("no button {text:?} on {here}"));
        button.click().await.expect("click");
        // The click starts a navigation; wait until the button's page is gone.
        let deadline = Instant::now() + Duration::from_secs(20);
        while button.tag_name().await.is_ok() {
            assert!(
                Instant::now() < deadline,
                "the page did not change after {text:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css("h1"))
            .await
            .expect("next page");
    }

    pub async fn follow(&self, link_text: &str) {
        let link = self
            .client
            .find(Locator::LinkText(link_text))
            .await
            .unwrap_or_else(|_| panic!("no link {link_text:?}"));
        link.follow().await.expect("follow link");
    }

    pub async fn h1(&self) -> String {
        self.client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css("h1"))
            .await
            .expect("h1")
            .text()
            .await
            .expect("h1 text")
    }

    pub async fn main_text(&self) -> String {
        self.client
            .find(Locator::Css("main"))
            .await
            .expect("main")
            .text()
            .await
            .expect("main text")
    }

    pub async fn url(&self) -> String {
        self.client
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default()
    }

    /// Prints what the customer sees on this page (for the report).
    pub async fn saw(&self, step: &str) -> String {
        let path = self.url().await;
        let h1 = self.h1().await;
        let text = self.main_text().await;
        let first_lines: Vec<&str> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .take(3)
            .collect();
        println!(
            "[browser] {step}: {path} | h1 {h1:?} | {}",
            first_lines.join(" / ")
        );
        text
    }
}

/// Whether Chromium and chromedriver are installed. Where they are not,
/// the browser tests fail with how to install them, unless
/// `KEYDESK_REQUIRE_BACKENDS=0` asks to skip what is missing.
pub fn browser_available() -> bool {
    let found = find_binary(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]).is_some()
        && find_binary(&["/usr/lib/chromium/chromium", "/usr/bin/chromium"]).is_some();
    if !found {
        assert!(
            std::env::var("KEYDESK_REQUIRE_BACKENDS").as_deref() == Ok("0"),
            "Chromium and chromedriver are missing: apt-get install -y chromium chromium-driver (.ci/run does), or set KEYDESK_REQUIRE_BACKENDS=0 to skip the browser tests"
        );
        eprintln!(
            "SKIPPED: Chromium or chromedriver missing (apt-get install -y chromium chromium-driver)"
        );
    }
    found
}
