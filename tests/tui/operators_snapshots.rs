//! The Operators screen as insta snapshots in mono: the list with roles
//! and key fingerprints (hostile comments made harmless) at 80x24 and
//! 120x40, the add form, and the reason an agent gets instead.

use chrono::TimeDelta;
use keydesk::desk::Role;
use keydesk::desk::operator_keys::OperatorKey;
use keydesk::desk::operators::OperatorEntry;
use keydesk::tui::app::App;
use keydesk::tui::msg::{Cmd, Msg, OperatorListing, OperatorView};
use keydesk::tui::update::update;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::KeyCode;

use crate::support::console_fixture::{code, console, key, t0};

fn listing(name: &str, role: Role, keys: &[(&str, &str)]) -> OperatorListing {
    OperatorListing {
        operator: OperatorEntry {
            name: name.into(),
            role,
            created_at: t0() - TimeDelta::days(30),
            created_by: "sam".into(),
        },
        keys: keys
            .iter()
            .map(|(fp, comment)| OperatorKey {
                operator: name.into(),
                fingerprint: (*fp).into(),
                algorithm: "ssh-ed25519".into(),
                comment: (*comment).into(),
                created_at: t0(),
                created_by: "sam".into(),
            })
            .collect(),
    }
}

fn operators_open(w: u16, h: u16) -> App {
    let mut app = console(w, h);
    let generation = update(&mut app, key('O'))
        .into_iter()
        .find_map(|c| match c {
            Cmd::LoadOperators { generation } => Some(generation),
            _ => None,
        })
        .expect("O loads the operators");
    update(
        &mut app,
        Msg::OperatorsLoaded {
            generation,
            result: Ok(vec![
                listing("alex", Role::Agent, &[]),
                listing(
                    "bea",
                    Role::Viewer,
                    &[
                        (
                            "SHA256:3DOwQ4RhhGyPJdr9utW9BH961P+CvzvjU7XzxFtx99g",
                            "bea@laptop",
                        ),
                        (
                            "SHA256:Zm9vYmFyYmF6cXV4cXV1eGZvb2JhcmJhenF1eHF1dXg",
                            "bea@desk",
                        ),
                    ],
                ),
                listing(
                    "sam",
                    Role::Admin,
                    &[(
                        "SHA256:q8V2m1yCq0v1Yk0m2Ykq9H4m3oVb0Fq1e2r3t4y5u6i",
                        "sam\x1b]0;pwned\x07",
                    )],
                ),
            ]),
        },
    );
    app
}

fn screen(app: &mut App) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(app.size.0, app.size.1)).unwrap();
    terminal.draw(|f| keydesk::tui::view::draw(app, f)).unwrap();
    terminal
}

#[test]
fn operators_screen() {
    for (w, h) in [(80, 24), (120, 40)] {
        let mut app = operators_open(w, h);
        update(&mut app, key('j'));
        insta::assert_snapshot!(format!("operators_{w}x{h}"), screen(&mut app).backend());
    }
    let mut app = operators_open(80, 24);
    update(&mut app, key('a'));
    for c in "dana".chars() {
        update(&mut app, key(c));
    }
    update(&mut app, code(KeyCode::Tab));
    insta::assert_snapshot!("operators_add_80x24", screen(&mut app).backend());
}

#[test]
fn operators_refused_to_an_agent() {
    let mut app = console(80, 24);
    update(
        &mut app,
        Msg::OperatorResolved(Ok(OperatorView {
            name: "alex".into(),
            role: Some(Role::Agent),
        })),
    );
    update(&mut app, key('O'));
    insta::assert_snapshot!("operators_agent_80x24", screen(&mut app).backend());
}
