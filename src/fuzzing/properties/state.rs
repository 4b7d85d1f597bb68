//! Stored checkpoints: hand-edited, corrupted or from the edges of the calendar.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::{json, text};
use crate::fuzzing::check_checkpoint;

/// Times from the whole calendar chrono accepts, its edges included.
fn time() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(json!("+262142-12-31T23:59:59.999999999Z")),
        Just(json!("-262143-01-01T00:00:00Z")),
        Just(json!("1970-01-01T00:00:00Z")),
        Just(json!("2026-11-23T10:00:00.123Z")),
        Just(json!("2016-12-31T23:59:60.5Z")),
        (-8_000_000_000_000i64..8_000_000_000_000).prop_map(|s| {
            json!(chrono::DateTime::from_timestamp(s, 0).map(|t| t.to_rfc3339()))
        }),
        (1_600_000_000i64..1_900_000_000, 0u32..1_000_000_000).prop_map(|(s, n)| {
            json!(chrono::DateTime::from_timestamp(s, n).map(|t| t.to_rfc3339()))
        }),
    ]
    .boxed()
}

fn step() -> impl Strategy<Value = Value> {
    prop::sample::select(vec![
        "0s",
        "1ns",
        "1ms",
        "1s",
        "1h",
        "1d",
        "1000y",
        "584942417355y",
    ])
    .prop_map(Value::from)
}

fn window() -> BoxedStrategy<Value> {
    (time(), time())
        .prop_map(|(start, end)| json!({"start": start, "end": end}))
        .boxed()
}

fn page() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        text().prop_map(|t| json!({"url": t})),
        text().prop_map(|t| json!({"token": t})),
        any::<u64>().prop_map(|n| json!({"offset": n})),
        any::<u64>().prop_map(|n| json!({"page": n})),
    ]
}

fn backfill() -> BoxedStrategy<Value> {
    let times = prop::collection::vec(time(), 3);
    (
        any::<u64>(),
        times,
        step(),
        prop::collection::vec((text(), time()), 0..3),
    )
        .prop_map(|(id, times, step, seed)| {
            json!({"id": id, "from": times[0], "to": times[1], "step": step,
                   "frontier": times[2], "seed": seed})
        })
        .boxed()
}

/// A checkpoint document with every field drawn from its odd corners. (Built in boxed parts:
/// one flat tuple of them overflows a test thread's stack in debug builds.)
fn checkpoint() -> BoxedStrategy<Value> {
    let numbers = (any::<u64>(), any::<u64>());
    let times = prop::collection::vec(time(), 6);
    let windows = prop::collection::vec(prop::option::of(window()), 2);
    let lists = (
        prop::collection::vec((text(), time()), 0..5),
        prop::collection::vec(backfill(), 0..3),
        prop::collection::vec("[0-9a-f]{16}", 0..3),
    )
        .boxed();
    (numbers, times, windows, page(), lists)
        .prop_map(
            |((seq, delivered), t, w, page, (recent, backfills, trail))| {
                json!({
                    "seq": seq, "anchor": t[0], "window": w[0], "listing": w[1],
                    "page": page, "high_water": t[1], "recent": recent,
                    "window_low": {"time": t[2], "ids": ["a"]}, "floor": t[3], "until": t[4],
                    "backfills": backfills, "listed_from": t[5],
                    "trail": {"requests": trail, "contents": []},
                    "delivered": delivered, "committed_at": null,
                })
            },
        )
        .boxed()
}

/// Drops some of the checkpoint's fields, as an older or damaged document would.
fn thinned() -> impl Strategy<Value = Value> {
    (checkpoint(), prop::collection::vec(any::<bool>(), 15)).prop_map(|(mut doc, keep)| {
        if let Value::Object(map) = &mut doc {
            let mut flags = keep.into_iter().cycle();
            map.retain(|_, _| flags.next().unwrap_or(true));
        }
        doc
    })
}

proptest! {
    #[test]
    fn stored_checkpoints_are_refused_or_can_be_worked_from(doc in prop_oneof![
        checkpoint(), thinned(), json(),
    ]) {
        let bytes = serde_json::to_vec(&doc).expect("JSON values serialize");
        check_checkpoint(&bytes);
        let intent = json!({"base_seq": 1, "next": doc, "sinks": []});
        check_checkpoint(&serde_json::to_vec(&intent).expect("JSON values serialize"));
    }

    #[test]
    fn damaged_checkpoint_bytes_are_refused_or_can_be_worked_from(
        doc in checkpoint(),
        cut in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut bytes = serde_json::to_vec(&doc).expect("JSON values serialize");
        let at = flip.index(bytes.len());
        bytes[at] = byte;
        check_checkpoint(&bytes);
        bytes.truncate(cut.index(bytes.len()));
        check_checkpoint(&bytes);
    }
}
