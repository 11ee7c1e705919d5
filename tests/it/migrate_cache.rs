//! The migrate Bundle cache answers exactly what building the Bundle afresh answers: for every
//! patient of every shipped scenario, both sensitivity choices, repeated with new trace ids,
//! across PDS updates and a reset. Two sandboxes run side by side on the same world, one with
//! the cache (default budget) and one with `migrate_cache_max_bytes = 0`.

use serde_json::json;
use spine_sandbox::interactions;
use spine_sandbox::migrate_parameters as parameters;
use spine_sandbox::{Clock, Config};
use spine_sandbox::{MigrateTokenRequest, encode_unsigned};
use spine_sandbox::{World, load_paths};

use crate::support::*;

/// Both sandboxes advertise this, so Binary URLs in the Bundles are the same.
const PUBLIC_URL: &str = "http://sandbox.test";

/// One migrate as the patient's registered practice would send it.
struct Migrate {
    nhs: String,
    sensitive: bool,
    /// The practice holding the record.
    from_ods: String,
    from_asid: String,
    /// The requesting (registered) practice.
    as_ods: String,
    as_asid: String,
}

/// Status, content type and the exact bytes.
type Answer = (u16, String, Vec<u8>);

impl Migrate {
    async fn send(&self, sandbox: &TestSandbox, trace_id: &str) -> Answer {
        let claims = MigrateTokenRequest {
            requesting_ods: self.as_ods.clone(),
            requesting_name: "Cache Test Practice".into(),
            requesting_asid: self.as_asid.clone(),
            audience: "https://authorize.fhir.nhs.net/token/".into(),
            practitioner: Some(suite_practitioner()),
            sensitive: self.sensitive,
            now: chrono::Utc::now(),
        }
        .claims();
        let resp = sandbox
            .http
            .post(sandbox.url(&format!(
                "/{}/STU3/1/gpconnect/structured/fhir/Patient/$gpc.migratestructuredrecord",
                self.from_ods
            )))
            .header("Ssp-TraceID", trace_id)
            .header("Ssp-From", &self.as_asid)
            .header("Ssp-To", &self.from_asid)
            .header("Ssp-InteractionID", interactions::MIGRATE_STRUCTURED)
            .header("Accept", "application/fhir+json")
            .header("Content-Type", "application/fhir+json")
            .header(
                "Authorization",
                format!("Bearer {}", encode_unsigned(&claims)),
            )
            .body(serde_json::to_vec(&parameters(&self.nhs, self.sensitive)).unwrap())
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, content_type, resp.bytes().await.unwrap().to_vec())
    }
}

fn world(path: &str) -> World {
    load_paths(&[repo_path(path)], start_day()).unwrap()
}

async fn pair(path: &str) -> (TestSandbox, TestSandbox) {
    let start = |budget: u64| {
        TestSandbox::start_world_with(world(path), Clock::system(), move |c: &mut Config| {
            c.public_url = Some(PUBLIC_URL.into());
            c.migrate_cache_max_bytes = budget;
        })
    };
    (start(64 * 1024 * 1024).await, start(0).await)
}

/// Every patient whose record is held by a provider, as their registered practice, both ways.
fn every_migrate(world: &World) -> Vec<Migrate> {
    let mut calls = Vec::new();
    for p in &world.patients {
        let (Some(holder), Some(registered)) = (
            world.practice(p.record_at.as_str()),
            world.practice(p.registered_with.as_str()),
        ) else {
            continue;
        };
        if !holder.provider {
            continue;
        }
        for sensitive in [false, true] {
            calls.push(Migrate {
                nhs: p.nhs_number.as_str().to_owned(),
                sensitive,
                from_ods: holder.ods.as_str().to_owned(),
                from_asid: holder.asid.as_str().to_owned(),
                as_ods: registered.ods.as_str().to_owned(),
                as_asid: registered.asid.as_str().to_owned(),
            });
        }
    }
    calls
}

/// Each call twice (a fill, then a hit) with new trace ids, compared byte for byte.
async fn assert_same(cached: &TestSandbox, plain: &TestSandbox, calls: &[Migrate], when: &str) {
    for call in calls {
        for _ in 0..2 {
            let trace = uuid::Uuid::new_v4().to_string();
            let a = call.send(cached, &trace).await;
            let b = call.send(plain, &trace).await;
            assert!(
                a == b,
                "{when}: patient {} sensitive {}: cached answer {} ({} bytes) differs from a fresh build {} ({} bytes)",
                call.nhs,
                call.sensitive,
                a.0,
                a.2.len(),
                b.0,
                b.2.len()
            );
            if a.0 == 200 {
                let bundle: serde_json::Value = serde_json::from_slice(&a.2).unwrap();
                assert_eq!(
                    bundle["id"],
                    trace.as_str(),
                    "{when}: Bundle.id is the trace id"
                );
            }
        }
    }
}

/// Sends the same PATCH to the patient on both sandboxes; both must answer alike (a restricted
/// patient's record is refused on both).
async fn patch_both(sandboxes: [&TestSandbox; 2], nhs: &str, patches: serde_json::Value) {
    let mut statuses = Vec::new();
    for s in sandboxes {
        let url = s.url(&format!("/personal-demographics/FHIR/R4/Patient/{nhs}"));
        let read = s
            .http
            .get(&url)
            .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
            .send()
            .await
            .unwrap();
        let etag = read
            .headers()
            .get("etag")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_else(|| "W/\"1\"".to_owned());
        let resp = s
            .http
            .patch(&url)
            .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
            .header("Content-Type", "application/json-patch+json")
            .header("If-Match", etag)
            .body(json!({ "patches": patches }).to_string())
            .send()
            .await
            .unwrap();
        statuses.push(resp.status().as_u16());
    }
    assert_eq!(statuses[0], statuses[1], "PATCH {nhs}: {patches}");
}

async fn check_scenario(path: &str) {
    let (cached, plain) = pair(path).await;
    let w = world(path);
    let calls = every_migrate(&w);
    if calls.is_empty() {
        // A PDS-only world (scenarios/pds-sandbox.yaml): no provider holds a record.
        assert!(
            !path.ends_with("default.yaml"),
            "{path} has patients to migrate"
        );
        return;
    }
    assert_same(&cached, &plain, &calls, "first requests").await;
    let stats = cached.running.shared.migrate_cache.stats();
    assert!(
        stats.hits > 0 && stats.entries > 0,
        "{path}: the cache was used: {stats:?}"
    );

    // PDS changes on every patient: a field, then the registered practice (to the holder, so
    // the holder itself becomes the requesting practice).
    let ods_system = "https://fhir.nhs.uk/Id/ods-organization-code";
    let mut moved = Vec::new();
    for call in calls.iter().filter(|c| !c.sensitive) {
        patch_both(
            [&cached, &plain],
            &call.nhs,
            json!([{ "op": "replace", "path": "/gender", "value": "unknown" }]),
        )
        .await;
    }
    assert_same(&cached, &plain, &calls, "after a PDS gender change").await;
    for call in &calls {
        if !call.sensitive {
            let read: serde_json::Value = cached
                .http
                .get(cached.url(&format!(
                    "/personal-demographics/FHIR/R4/Patient/{}",
                    call.nhs
                )))
                .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if let Some(id) = read["generalPractitioner"][0]["id"].as_str() {
                patch_both(
                    [&cached, &plain],
                    &call.nhs,
                    json!([{ "op": "replace", "path": "/generalPractitioner/0", "value": {
                        "id": id, "type": "Organization",
                        "identifier": { "system": ods_system, "value": call.from_ods } } }]),
                )
                .await;
            }
        }
        moved.push(Migrate {
            as_ods: call.from_ods.clone(),
            as_asid: call.from_asid.clone(),
            ..clone_call(call)
        });
    }
    assert_same(
        &cached,
        &plain,
        &moved,
        "after a registration change, as the new practice",
    )
    .await;
    assert_same(
        &cached,
        &plain,
        &calls,
        "after a registration change, as the old practice",
    )
    .await;

    assert_eq!(cached.reset().await, 204);
    assert_eq!(plain.reset().await, 204);
    let before = cached.running.shared.migrate_cache.stats();
    assert_same(&cached, &plain, &calls, "after a reset").await;
    let after = cached.running.shared.migrate_cache.stats();
    assert!(
        after.hits > before.hits && after.misses > before.misses,
        "{path}: after a reset the Bundles are built again, then answered from the cache: {before:?} -> {after:?}"
    );
}

fn clone_call(c: &Migrate) -> Migrate {
    Migrate {
        nhs: c.nhs.clone(),
        sensitive: c.sensitive,
        from_ods: c.from_ods.clone(),
        from_asid: c.from_asid.clone(),
        as_ods: c.as_ods.clone(),
        as_asid: c.as_asid.clone(),
    }
}

#[tokio::test]
async fn every_shipped_scenario_answers_the_same_bytes_cached_or_not() {
    let mut scenarios: Vec<_> = std::fs::read_dir(repo_path("scenarios"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    scenarios.sort();
    assert!(scenarios.len() >= 2);
    for path in scenarios {
        let relative = format!("scenarios/{}", path.file_name().unwrap().to_string_lossy());
        check_scenario(&relative).await;
    }
}

#[tokio::test]
async fn a_budget_too_small_for_any_bundle_still_answers_every_request() {
    let s = TestSandbox::start_with("scenarios/default.yaml", Clock::system(), |c| {
        c.migrate_cache_max_bytes = 1024;
    })
    .await;
    for trace in [
        "5b1a6fbc-5f44-4d68-a9e2-1d1a2b0f8f5e",
        "0f2a8d7e-1b3c-4d5e-8f90-a1b2c3d4e5f6",
    ] {
        let (status, body) = ProviderCall::migrate(PATIENT2, false)
            .header("Ssp-TraceID", trace)
            .send(&s)
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["id"], trace);
    }
    assert_eq!(s.running.shared.migrate_cache.stats().entries, 0);
}
