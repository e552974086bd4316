//! The profile's dialogs over `ssh-serve` with the real OpenSSH client at
//! 80x24: an admin opens a profile, grants an offer through More Actions
//! by typing part of its name, and adds a note that Notes then lists.

use keydesk::desk::audit::AuditFilter;

use crate::support::people;
use crate::support::ssh::{Client, Server, fixture};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_grants_an_offer_and_adds_a_note_at_80x24() {
    let fx = fixture(&[]).await;
    // A second offer in the store ("Course"), held by someone else.
    people::make_customer(fx.desk.store(), "Zed Holder", "zed@example.com").await;
    let key = fx.operator_with_key("ann", "admin");
    let server = Server::start(&fx);

    let mut c = Client::start(server.port, &key, 80, 24, &[]);
    c.wait_for(&["ann", "(admin)"]);
    c.send("cleo");
    c.wait_for(&["1 match", "Cleo Park"]);
    c.send("\r");
    c.wait_for(&["cleo@example.com", "Contact"]);

    // Grant Offer: `.` then `a`, part of the name, Enter, confirm.
    c.send(".");
    c.wait_for(&["More Actions", "Grant Offer"]);
    c.send("a");
    c.wait_for(&["Type part of the offer's name", "Course"]);
    c.send("cou");
    c.wait_for(&["1 of 2 offer(s)"]);
    c.send("\r");
    c.wait_for(&["Cleo Park"]);
    c.send("\r");
    c.wait_for(&["Course granted to Cleo Park"]);

    // Notes: write one, Ctrl-S saves, the list shows it.
    c.send("n");
    c.wait_for(&["Notes", "Enter new line"]);
    c.send("Bought it elsewhere; granted Course.");
    c.send("\x13");
    c.wait_for(&[
        "Note added to Cleo Park",
        "ann",
        "Bought it elsewhere; granted Course.",
    ]);

    let status = c.quit();
    assert!(status.success(), "{status:?}");
    c.assert_restored();

    let admin = fx.admin().await;
    let rows = fx
        .desk
        .audit(
            &admin,
            &AuditFilter {
                contact_email: Some("cleo@example.com".into()),
                limit: 20,
                ..AuditFilter::default()
            },
        )
        .await
        .unwrap();
    for name in ["offer.grant", "note.add"] {
        let row = rows
            .iter()
            .find(|r| r.action == name && r.outcome == "ok")
            .unwrap_or_else(|| panic!("no {name} row in {rows:#?}"));
        assert_eq!(row.actor, "ann");
        assert!(row.source.starts_with("ssh 127.0.0.1:"), "{}", row.source);
    }
    assert!(server.stop().success());
}
