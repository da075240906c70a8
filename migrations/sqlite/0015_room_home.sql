-- Where a patient lives, as the staff of the patient's room pinned it (駐車場, issue 17: the
-- point "nearby parking" searches from). One pin per patient room; coordinates in 10^-7
-- degree (as the register's). The register's own location of the person linked to the room
-- is read from register_people; which of the two wins is docs/parking.md, "The patient's
-- home" (the pin). Setting and clearing are audited (room.home.pin / room.home.unpin).
CREATE TABLE room_home_pins (
    room_id       BIGINT PRIMARY KEY REFERENCES rooms (id),
    latitude_e7   BIGINT NOT NULL,
    longitude_e7  BIGINT NOT NULL,
    set_by        BIGINT NOT NULL REFERENCES users (id),
    set_at        BIGINT NOT NULL
);
