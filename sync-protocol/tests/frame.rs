//! The `/ws` frame encoding is a wire format: these bytes must not change by accident.

use renraku_sync::frame::MAX_FRAME_BYTES;
use renraku_sync::{DocId, Error, Frame, MunicipalityId, RoomId, UserId};

#[test]
fn frames_encode_to_stable_bytes() {
    let room = DocId::Room(RoomId::new(12));
    let cases: Vec<(Frame, Vec<u8>)> = vec![
        (Frame::Hello { version: 1 }, vec![0, 1]),
        (Frame::Open { doc: room }, vec![1, 0, 24]),
        (
            Frame::Open {
                doc: DocId::Personal(UserId::new(5)),
            },
            vec![1, 1, 10],
        ),
        (Frame::Close { doc: room }, vec![2, 0, 24]),
        (
            Frame::Sync {
                doc: room,
                ack: Some(7),
                message: vec![0, 0, 1, 0],
            },
            vec![3, 0, 24, 1, 7, 4, 0, 0, 1, 0],
        ),
        (Frame::Saved { doc: room, ack: 7 }, vec![4, 0, 24, 7]),
        (
            Frame::Denied {
                doc: room,
                reason: "x".into(),
            },
            vec![5, 0, 24, 1, b'x'],
        ),
        (
            Frame::Invalid {
                doc: room,
                ack: None,
                reason: "y".into(),
            },
            vec![6, 0, 24, 0, 1, b'y'],
        ),
        (Frame::TooLarge { limit: 2 }, vec![7, 2]),
        (Frame::Malformed { reason: "z".into() }, vec![8, 1, b'z']),
        (
            Frame::RoomActivity {
                room: RoomId::new(12),
                author: UserId::new(5),
                at: 3,
                text: "w".into(),
            },
            vec![9, 24, 10, 6, 1, b'w'],
        ),
        (
            Frame::RegisterMarked {
                municipality: MunicipalityId::new(3),
                mark: "m".into(),
            },
            vec![10, 6, 1, b'm'],
        ),
        (
            Frame::RegisterChanged {
                municipality: MunicipalityId::new(3),
            },
            vec![11, 6],
        ),
    ];
    for (frame, bytes) in cases {
        assert_eq!(frame.encode(), bytes, "{frame:?}");
        assert_eq!(Frame::decode(&bytes).unwrap(), frame);
    }
}

#[test]
fn bad_frames_are_errors_not_panics() {
    assert!(matches!(Frame::decode(&[]), Err(Error::Malformed(_))));
    assert!(matches!(
        Frame::decode(&[99, 1, 2]),
        Err(Error::Malformed(_))
    ));
    assert!(matches!(
        Frame::decode(&[3, 0, 24, 1, 7, 200, 200, 200, 200, 15]),
        Err(Error::Malformed(_))
    ));
    let huge = vec![0u8; MAX_FRAME_BYTES + 1];
    assert!(matches!(Frame::decode(&huge), Err(Error::TooLarge { .. })));
}

#[test]
fn a_large_rooms_first_sync_from_the_server_decodes_on_the_client() {
    let frame = Frame::Sync {
        doc: DocId::Room(RoomId::new(1)),
        ack: None,
        message: vec![1; 2 * MAX_FRAME_BYTES],
    };
    let bytes = frame.encode();
    assert!(matches!(Frame::decode(&bytes), Err(Error::TooLarge { .. })));
    assert_eq!(Frame::decode_from_server(&bytes).unwrap(), frame);
}

#[test]
fn doc_ids_have_storage_keys() {
    assert_eq!(DocId::Room(RoomId::new(3)).storage_key(), "room/3");
    assert_eq!(DocId::Personal(UserId::new(4)).storage_key(), "user/4");
}

#[test]
fn previews_are_the_first_line_shortened() {
    use renraku_sync::frame::{preview, PREVIEW_CHARS};
    assert_eq!(preview("\n  訪問しました。 \n二行目"), "訪問しました。");
    assert_eq!(preview(""), "");
    assert_eq!(preview(" \n "), "");
    let long = "あ".repeat(100);
    let short = preview(&long);
    assert_eq!(short.chars().count(), PREVIEW_CHARS);
    assert!(short.ends_with('…'));
    let exact = "い".repeat(PREVIEW_CHARS);
    assert_eq!(preview(&exact), exact);
}
