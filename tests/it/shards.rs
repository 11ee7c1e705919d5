//! A sandbox as one shard behind a router (`docs/scaling.md`): its worlds' ids start with its
//! shard name, and their SSP base URL names the host the router picks the shard by.

use serde_json::{Value, json};
use spine_sandbox::Clock;

use crate::support::TestSandbox;

#[tokio::test]
async fn a_shards_worlds_are_named_after_it_and_advertise_its_ssp_host() {
    let sandbox = TestSandbox::start_with("scenarios/default.yaml", Clock::system(), |c| {
        c.shard = Some("s1".into());
        c.ssp_public_url = Some("https://s1.ssp.example.org:8443/".into());
    })
    .await;
    let resp = sandbox
        .http
        .post(sandbox.url("/_admin/worlds"))
        .json(&json!({ "scenario": "default" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let world: Value = resp.json().await.unwrap();
    let id = world["id"].as_str().unwrap();
    assert!(id.starts_with("s1-"), "{world}");
    assert_eq!(
        world["urls"]["ssp"],
        format!("https://s1.ssp.example.org:8443/worlds/{id}")
    );
}
