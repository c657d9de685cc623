use super::*;
use crate::step::Next;

fn cache(status: &str) -> Cache {
    Cache {
        status: status.into(),
        endpoint: Some("c.example:6379".into()),
    }
}

#[test]
fn creation_creates_once_and_waits_for_available() {
    assert_eq!(creation("c", None, false), Next::Call(()));
    assert!(matches!(creation("c", None, true), Next::Wait(_)));
    assert!(matches!(creation("c", Some(&cache("creating")), true), Next::Wait(_)));
    assert!(matches!(creation("c", Some(&cache("deleting")), false), Next::Wait(_)));
    let Next::Done(m) = creation("c", Some(&cache("available")), true) else {
        panic!()
    };
    assert!(m.contains("c.example:6379"), "{m}");
}

#[test]
fn deletion_waits_for_a_creation_deletes_once_and_is_done_when_gone() {
    assert!(matches!(deletion("c", None, false), Next::Done(_)));
    assert!(matches!(deletion("c", Some(&cache("creating")), false), Next::Wait(_)));
    assert_eq!(deletion("c", Some(&cache("available")), false), Next::Call(()));
    assert!(matches!(deletion("c", Some(&cache("available")), true), Next::Wait(_)));
    assert!(matches!(deletion("c", Some(&cache("deleting")), true), Next::Wait(_)));
}
