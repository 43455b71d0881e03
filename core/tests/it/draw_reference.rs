//! The draw's second implementation (`infra/verify_draw.py`, Python standard library
//! only, written from `docs/DRAW.md`) agrees with `campaigns::draw` on the same seed and
//! snapshot, and catches a tampered snapshot and a wrong commitment.

use std::io::Write;
use std::process::{Command, Stdio};

use promo_core::campaigns::draw::{commitment, draw, Snapshot};
use rand::{Rng, RngCore, SeedableRng};

fn script() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/verify_draw.py")
}

/// Runs the script with `args` on `snapshot` (canonical text); (exit code, stdout).
pub fn verify(args: &[String], snapshot: &str) -> (i32, String) {
    let mut child = Command::new("python3")
        .arg(script())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (the tests need it for moto too)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(snapshot.as_bytes())
        .expect("write the snapshot");
    let output = child.wait_with_output().expect("python3 finished");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn the_python_reference_draws_the_same_winners_and_refuses_a_tampered_snapshot() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
    for round in 0..3 {
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let mut snapshot = Snapshot::new();
        let mut text = String::new();
        let mut user = 0i64;
        for _ in 0..2_000 {
            user += rng.gen_range(1..50);
            let tickets = rng.gen_range(1..40);
            snapshot.push(user, tickets).expect("entry");
            text.push_str(&format!("{user}:{tickets}\n"));
        }
        let picks = 40 + round * 30;
        let winners = draw(&snapshot, &seed, picks);
        let seed_hex = promo_core::campaigns::draw::hex(&seed);
        let winners_file = std::env::temp_dir().join(format!(
            "promo-draw-winners-{}-{round}.txt",
            std::process::id()
        ));
        let listed: String = winners.iter().map(|(u, t)| format!("{u}:{t}\n")).collect();
        std::fs::write(&winners_file, &listed).expect("winners file");
        let args = vec![
            "--seed".to_owned(),
            seed_hex.clone(),
            "--picks".to_owned(),
            picks.to_string(),
            "--commitment".to_owned(),
            commitment(&seed),
            "--snapshot-hash".to_owned(),
            snapshot.hash(),
            "--winners".to_owned(),
            winners_file.display().to_string(),
        ];
        let (code, out) = verify(&args, &text);
        assert_eq!(code, 0, "round {round}: {out}");
        assert!(out.contains("winners: match"), "{out}");

        // One ticket more for one participant: the hash and the winners no longer match.
        let tampered = text.replacen(":", ":1", 1);
        let (code, out) = verify(&args, &tampered);
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("snapshot hash: DOES NOT MATCH"), "{out}");

        // A seed other than the committed one.
        let mut other = args.clone();
        other[1] = format!("{:0>64}", "1");
        let (code, out) = verify(&other, &text);
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("commitment: DOES NOT MATCH"), "{out}");
        let _ = std::fs::remove_file(&winners_file);
    }
}

#[test]
fn with_multiple_wins_the_python_reference_draws_the_same_repeated_winners() {
    use promo_core::campaigns::draw::draw_tickets;
    let mut rng = rand::rngs::StdRng::seed_from_u64(2027);
    let mut seed = [0u8; 32];
    rng.fill_bytes(&mut seed);
    let mut snapshot = Snapshot::new();
    let mut text = String::new();
    // A few big holders among many small ones, so repeats are certain.
    for user in 1..=300i64 {
        let tickets = if user % 100 == 0 {
            5_000
        } else {
            rng.gen_range(1..5)
        };
        snapshot.push(user, tickets).expect("entry");
        text.push_str(&format!("{user}:{tickets}\n"));
    }
    let winners = draw_tickets(&snapshot, &seed, 30);
    let big: usize = winners.iter().filter(|(u, _)| u % 100 == 0).count();
    assert!(big > 3, "the big holders win several picks: {winners:?}");
    let winners_file =
        std::env::temp_dir().join(format!("promo-draw-tickets-{}.txt", std::process::id()));
    let listed: String = winners.iter().map(|(u, t)| format!("{u}:{t}\n")).collect();
    std::fs::write(&winners_file, &listed).expect("winners file");
    let mut args = vec![
        "--seed".to_owned(),
        promo_core::campaigns::draw::hex(&seed),
        "--picks".to_owned(),
        "30".to_owned(),
        "--winners".to_owned(),
        winners_file.display().to_string(),
    ];
    // Without the flag the reference draws other winners: the mode is part of the record.
    let (code, out) = verify(&args, &text);
    assert_eq!(code, 1, "{out}");
    args.push("--multiple-wins".to_owned());
    let (code, out) = verify(&args, &text);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("winners: match"), "{out}");
    let _ = std::fs::remove_file(&winners_file);
}
