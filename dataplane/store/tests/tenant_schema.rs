//! `Schema` isolation (a Tenant's fleet on the platform's PostgreSQL with its own schema first in
//! the `search_path`): the schema is created and migrated at start, with its own migration
//! history, and nothing in it is seen through the platform's connection or the other way round.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use oblivious_store::testing::TestDatabase;
use oblivious_store::{NewUser, Store};

fn in_schema(url: &str, schema: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-c%20search_path%3D{schema}%2Cpublic")
}

fn user(name: &str) -> NewUser {
    NewUser {
        username: name.into(),
        email: format!("{name}@example.com"),
        password_hash: "x".into(),
        ..NewUser::default()
    }
}

#[tokio::test]
async fn a_tenant_schema_is_created_and_migrated_apart_from_the_platform_and_other_tenants() {
    let Some(database) = TestDatabase::create().await.unwrap() else { return };
    let platform = database.store().await.unwrap();
    let acme = Store::connect_postgres(&in_schema(&database.url, "tenant_acme")).await.unwrap();
    acme.migrate().await.unwrap();
    acme.migrate().await.unwrap();
    let globex = Store::connect_postgres(&in_schema(&database.url, "tenant_globex")).await.unwrap();
    globex.migrate().await.unwrap();
    assert_eq!(platform.schema().await.unwrap(), "public");
    assert_eq!(acme.schema().await.unwrap(), "tenant_acme");
    assert_eq!(globex.schema().await.unwrap(), "tenant_globex");

    // The same username in every schema: each is its own users table.
    let ann = acme.create_user(user("ann")).await.unwrap();
    let platform_ann = platform.create_user(user("ann")).await.unwrap();
    assert!(platform.get_user(ann.id).await.unwrap().is_none());
    assert!(globex.get_user(ann.id).await.unwrap().is_none());
    assert!(acme.get_user(platform_ann.id).await.unwrap().is_none());
    assert!(acme.get_user(ann.id).await.unwrap().is_some());

    for store in [&platform, &acme, &globex] {
        store.close().await;
    }
    database.drop_database().await.unwrap();
}
