//! Load on PostgreSQL: 100 agents send reset links at once, 2,000 sends
//! for 1,000 different customers (every customer gets two, from two
//! different agents, the second forced, in an order that makes agents
//! meet on the same customers). Every send is audited, every customer ends
//! with exactly one live link (the one its newest mail carries), and no
//! deadlock, serialization failure or pool timeout reaches a caller.

use std::collections::HashMap;

use keydesk::desk::{DeskError, Operator};
use keydesk::store::entity::{audit_event, outbox, reset_link};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::support::db;

const AGENTS: usize = 100;

/// 1,000 customers; 10,000 with `KEYDESK_SOAK=1` (see README, "Fault and
/// load tests").
fn customers() -> usize {
    if std::env::var("KEYDESK_SOAK").as_deref() == Ok("1") {
        10_000
    } else {
        1_000
    }
}

fn email(n: usize) -> String {
    format!("customer{n:04}@example.com")
}

/// 1,000 customers and 100 agents in a few statements.
async fn populate(db: &db::TestDb, customers: usize) -> Vec<Operator> {
    let t = "2026-03-01 09:00:00+00";
    let sql = format!(
        "INSERT INTO offers(name, products, created_at) VALUES ('Course', 'Course', '{t}');
         INSERT INTO contacts(name,email,name_lower,email_lower,subscribed,tags,notes,created_at,updated_at)
           SELECT 'Customer ' || n, 'customer' || lpad(n::text, 4, '0') || '@example.com',
                  'customer ' || n, 'customer' || lpad(n::text, 4, '0') || '@example.com',
                  false, '', '', '{t}', '{t}'
           FROM generate_series(0, {last}) AS n;
         INSERT INTO grants(contact_id, offer_id, source, granted_by, granted_at)
           SELECT id, (SELECT id FROM offers LIMIT 1), 'granted', 'test', '{t}' FROM contacts;
         INSERT INTO operators(name, role, created_at, created_by)
           SELECT 'agent' || n, 'agent', '{t}', 'test' FROM generate_series(0, {agents_last}) AS n;",
        last = customers - 1,
        agents_last = AGENTS - 1,
    );
    keydesk::store::execute_raw(db.store.conn(), &sql)
        .await
        .expect("populate");
    (0..AGENTS)
        .map(|n| Operator {
            name: format!("agent{n}"),
            source: "load-test".into(),
            role: "agent".parse().expect("role"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_agents_send_two_thousand_links_for_a_thousand_customers() {
    let Some(db) = db::fresh(db::Backend::Postgres).await else {
        return;
    };
    let (desk, _clock) = db::desk(&db);
    let customers = customers();
    let agents = populate(&db, customers).await;

    // Agent a owns customers 10a..10a+9 (first, unforced sends) and also
    // forces a second link to the customers of agent a+1, in reverse, so
    // that two agents work on one customer at about the same time.
    let per = customers / AGENTS;
    let mut tasks = Vec::new();
    for (a, agent) in agents.iter().enumerate() {
        let desk = desk.clone();
        let agent = agent.clone();
        tasks.push(tokio::spawn(async move {
            let next = (a + 1) % AGENTS;
            let mut outcomes = Vec::new();
            for i in 0..per {
                let own = email(a * per + i);
                let other = email(next * per + (per - 1 - i));
                outcomes.push((own.clone(), desk.send_reset_link(&agent, &own, false).await));
                outcomes.push((
                    other.clone(),
                    desk.send_reset_link(&agent, &other, true).await,
                ));
            }
            outcomes
        }));
    }
    let mut sent: HashMap<String, usize> = HashMap::new();
    let mut cooled = 0;
    for task in tasks {
        for (email, outcome) in task.await.expect("agent task") {
            match outcome {
                Ok(_) => *sent.entry(email).or_default() += 1,
                // The unforced send can lose to the forced one by a moment.
                Err(DeskError::Cooldown { .. }) => cooled += 1,
                Err(other) => panic!("{email}: an error reached the agent: {other} ({other:?})"),
            }
        }
    }
    let total_sent: usize = sent.values().sum();
    eprintln!(
        "{AGENTS} agents, {customers} customers: {total_sent} links sent, {cooled} refused within the cooldown"
    );
    assert_eq!(total_sent + cooled, 2 * customers);
    assert_eq!(
        sent.len(),
        customers,
        "every customer got at least one link"
    );

    let conn = db.store.conn();
    // Every send is audited: sent ones as sent, cooled ones as refused.
    let audited_sent = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("reset_link.sent"))
        .filter(audit_event::Column::Outcome.eq("ok"))
        .all(conn)
        .await
        .unwrap()
        .len();
    assert_eq!(audited_sent, total_sent, "one audit row per sent link");
    let audited_refused = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("reset_link.sent"))
        .filter(audit_event::Column::Outcome.eq("refused"))
        .all(conn)
        .await
        .unwrap()
        .len();
    assert_eq!(audited_refused, cooled, "one audit row per refusal");

    // One row per link and per mail; exactly one live link per customer,
    // and it is the link the newest mail to that customer carries.
    let links = reset_link::Entity::find().all(conn).await.unwrap();
    assert_eq!(links.len(), total_sent);
    let mails = outbox::Entity::find().all(conn).await.unwrap();
    assert_eq!(mails.len(), total_sent);
    let live: Vec<&reset_link::Model> = links
        .iter()
        .filter(|l| l.used_at.is_none() && l.revoked_at.is_none())
        .collect();
    assert_eq!(live.len(), customers, "one live link per customer");
    let mut live_per_account: HashMap<i64, usize> = HashMap::new();
    for link in &live {
        *live_per_account.entry(link.account_id).or_default() += 1;
    }
    assert!(live_per_account.values().all(|n| *n == 1));
    let mut newest: HashMap<&str, &outbox::Model> = HashMap::new();
    for mail in &mails {
        let e = newest.entry(mail.recipient.as_str()).or_insert(mail);
        if mail.id > e.id {
            *e = mail;
        }
    }
    assert_eq!(newest.len(), customers);
    for (recipient, mail) in newest {
        let link = mail.reset_link_id.expect("a reset mail names its link");
        assert!(
            live.iter().any(|l| l.id == link),
            "{recipient}: the newest mail carries the live link"
        );
    }
}
