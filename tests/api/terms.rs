use crate::{both_engines, helpers::*};
use fincert::config::Engine;
use serde_json::{Value, json};

async fn current_terms_are_listed(engine: Engine) {
    let app = spawn_app(engine).await;
    let resp = app.get("/v1/terms").await;
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    let items = body["items"].as_array().unwrap();
    let codes: Vec<_> = items.iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["identity-check", "marketing", "privacy", "service"]);
    let required: Vec<_> = items
        .iter()
        .filter(|d| d["required"] == true)
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert_eq!(required, ["identity-check", "privacy", "service"]);
    assert!(
        items
            .iter()
            .all(|d| d["version"] == 1 && !d["body"].as_str().unwrap().is_empty())
    );
}

fn hangul(s: &str) -> bool {
    s.chars().any(|c| ('가'..='힣').contains(&c))
}

/// The terms read in Korean by default and in English when asked; the language each text is
/// in is named; a language the service does not write in is refused with a clear problem.
async fn terms_are_read_in_the_readers_language(engine: Engine) {
    let app = spawn_app(engine).await;
    let mut versions_seen = Vec::new();
    for (query, lang) in [("", "ko"), ("?lang=ko", "ko"), ("?lang=en", "en")] {
        let resp = app.get(&format!("/v1/terms{query}")).await;
        assert_eq!(resp.status(), 200, "{query}");
        let body: Value = resp.json().await.unwrap();
        let items = body["items"].as_array().unwrap();
        assert_eq!(items.len(), 4);
        for d in items {
            assert_eq!(d["lang"], lang, "{query}: {d}");
            let (title, text) = (d["title"].as_str().unwrap(), d["body"].as_str().unwrap());
            assert_eq!(hangul(title), lang == "ko", "{query}: {title}");
            assert_eq!(hangul(text), lang == "ko", "{query}: {text}");
        }
        // Both languages render the same versions: an agreement names code and version.
        let versions: Vec<_> = items
            .iter()
            .map(|d| (d["code"].clone(), d["version"].clone()))
            .collect::<Vec<_>>();
        versions_seen.push(versions);
    }
    assert!(
        versions_seen.windows(2).all(|w| w[0] == w[1]),
        "every language lists the same (code, version) pairs: {versions_seen:?}"
    );
    for bad in ["?lang=ja", "?lang=", "?lang=KO", "?language=ko"] {
        assert_problem(
            app.get(&format!("/v1/terms{bad}")).await,
            400,
            "invalid_query",
        )
        .await;
    }
    // A version published later with no Korean text yet is shown in its own language, and
    // says so.
    use sea_orm::{ConnectionTrait, Statement};
    let now = fincert::clock::Clock::now(&app.clock);
    app.db
        .execute_raw(Statement::from_sql_and_values(
            app.db.get_database_backend(),
            "INSERT INTO terms_documents (code, version, title, body, required, effective_at, lang) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            ["privacy".into(), 2.into(), "Privacy v2".into(), "New text".into(), true.into(), now.into(), "en".into()],
        ))
        .await
        .unwrap();
    let body: Value = app.get("/v1/terms?lang=ko").await.json().await.unwrap();
    let privacy = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "privacy")
        .unwrap()
        .clone();
    assert_eq!(
        (
            privacy["version"].clone(),
            privacy["lang"].clone(),
            privacy["title"].clone()
        ),
        (json!(2), json!("en"), json!("Privacy v2"))
    );
}

/// The optional term is recorded only when the person agreed to it; a document named twice
/// is refused and nothing is recorded.
async fn the_optional_term_is_recorded_only_when_agreed(engine: Engine) {
    use sea_orm::{ConnectionTrait, Statement};
    let app = spawn_app(engine).await;
    let consents = |id: String| {
        let db = app.db.clone();
        async move {
            let rows = db
                .query_all_raw(Statement::from_sql_and_values(
                    db.get_database_backend(),
                    "SELECT code FROM terms_consents WHERE enrolment_id = $1 ORDER BY code",
                    [id.into()],
                ))
                .await
                .unwrap();
            rows.iter()
                .map(|r| r.try_get::<String>("", "code").unwrap())
                .collect::<Vec<_>>()
        }
    };
    let start = || async {
        let e: Value = post(&app, "/v1/enrolments", ANON, json!({"purpose": "issue"}))
            .await
            .json()
            .await
            .unwrap();
        e["id"].as_str().unwrap().to_owned()
    };
    let required = json!([{"code": "identity-check", "version": 1}, {"code": "privacy", "version": 1}, {"code": "service", "version": 1}]);

    let without = start().await;
    let resp = post(
        &app,
        &format!("/v1/enrolments/{without}/terms"),
        ANON,
        json!({"agreed": required}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        consents(without).await,
        ["identity-check", "privacy", "service"]
    );

    let twice = start().await;
    let mut doubled = required.as_array().unwrap().clone();
    doubled.push(json!({"code": "service", "version": 1}));
    assert_problem(
        post(
            &app,
            &format!("/v1/enrolments/{twice}/terms"),
            ANON,
            json!({"agreed": doubled}),
        )
        .await,
        422,
        "terms_not_agreed",
    )
    .await;
    assert!(consents(twice.clone()).await.is_empty());
    let e: Value = app
        .get(&format!("/v1/enrolments/{twice}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(e["step"], "terms", "nothing moved on");

    let with = start().await;
    let mut all = required.as_array().unwrap().clone();
    all.push(json!({"code": "marketing", "version": 1}));
    let resp = post(
        &app,
        &format!("/v1/enrolments/{with}/terms"),
        ANON,
        json!({"agreed": all}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        consents(with).await,
        ["identity-check", "marketing", "privacy", "service"]
    );
}

/// A version published for a future date is not current until then.
async fn future_versions_wait_for_their_date(engine: Engine) {
    use sea_orm::{ConnectionTrait, Statement};
    let app = spawn_app(engine).await;
    let when = fincert::clock::Clock::now(&app.clock) + chrono::Duration::days(10);
    let backend = app.db.get_database_backend();
    app.db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            "INSERT INTO terms_documents (code, version, title, body, required, effective_at) VALUES ($1, $2, $3, $4, $5, $6)",
            [ "service".into(), 2.into(), "Service terms v2".into(), "New text".into(), true.into(), when.into() ],
        ))
        .await
        .unwrap();
    let version_of_service = |body: serde_json::Value| {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["code"] == "service")
            .unwrap()["version"]
            .clone()
    };
    let body: serde_json::Value = app.get("/v1/terms").await.json().await.unwrap();
    assert_eq!(version_of_service(body), 1);
    app.clock.advance(chrono::Duration::days(11));
    let body: serde_json::Value = app.get("/v1/terms").await.json().await.unwrap();
    assert_eq!(version_of_service(body), 2);
}

both_engines!(
    current_terms_are_listed,
    future_versions_wait_for_their_date,
    terms_are_read_in_the_readers_language,
    the_optional_term_is_recorded_only_when_agreed
);
