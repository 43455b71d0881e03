//! The private Postgres and Redis servers fault tests use: they start on spare ports,
//! really go away when killed, and come back with their data (Postgres) when restarted.

use promo_testkit::servers::{PostgresServer, RedisServer};

#[tokio::test]
async fn a_private_postgres_keeps_its_rows_across_a_kill_and_a_restart() {
    let mut server = PostgresServer::start().await.expect("postgres starts");
    assert_ne!(server.port(), 5432);
    let url = server.migrated_database().await.expect("database");
    let pool = promo_core::db::connect(&url, 2).expect("pool");
    let client = pool.get().await.expect("connection");
    client
        .execute("INSERT INTO bots (slug) VALUES ('kept')", &[])
        .await
        .expect("insert");
    drop(client);

    server.kill().await.expect("kill");
    assert!(
        tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .is_err(),
        "a killed server refuses connections"
    );
    server.start_again().await.expect("restart");
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connects after the restart");
    tokio::spawn(connection);
    let row = client
        .query_one("SELECT count(*) FROM bots WHERE slug = 'kept'", &[])
        .await
        .expect("query");
    assert_eq!(row.get::<_, i64>(0), 1);
}

#[tokio::test]
async fn a_private_redis_goes_away_when_killed_and_answers_again_when_restarted() {
    let mut server = RedisServer::start().await.expect("redis starts");
    assert_ne!(server.port(), 6379);
    let ping = |url: String| async move {
        let client = redis::Client::open(url).ok()?;
        let mut conn = client.get_multiplexed_async_connection().await.ok()?;
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .ok()
    };
    assert_eq!(ping(server.url()).await.as_deref(), Some("PONG"));
    server.kill().await.expect("kill");
    assert_eq!(ping(server.url()).await, None);
    server.start_again().await.expect("restart");
    assert_eq!(ping(server.url()).await.as_deref(), Some("PONG"));
}
