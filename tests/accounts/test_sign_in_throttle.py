"""Sign-in throttling counts failures per account, whatever spelling of it is typed."""

import pytest

LOCKED = "Too many failed sign-in attempts"

# Five spellings of one account: the limit is five failures.
GREG = ["greg@example.com", "Greg@example.com", "gReg@EXAMPLE.com", " GREG@example.com ", "Greg"]
JOHN = ["john@helpline.example", "John@helpline.example", "JOHN", " john ", "jOhn@Helpline.Example"]


@pytest.mark.parametrize(
    ("login_url", "person", "spellings"),
    [("/login/", "greg", GREG), ("/staff/login/", "john", JOHN)],
)
def test_wrong_passwords_over_spellings_of_one_account_lock_it(
    client, demo, password, login_url, person, spellings
):
    *first, fifth = spellings
    for n, spelling in enumerate(first):
        response = client.post(login_url, {"username": spelling, "password": f"wrong-{n}"})
        assert LOCKED not in response.content.decode(), f"locked early, at {spelling!r}"
    # The fifth failure reaches the limit, although no spelling was typed twice …
    response = client.post(login_url, {"username": fifth, "password": "wrong-5"})
    assert LOCKED in response.content.decode()
    # … and every spelling, even with the right password, is refused now.
    for spelling in [person, *spellings]:
        response = client.post(login_url, {"username": spelling, "password": password})
        assert response.status_code == 429, spelling
        assert LOCKED in response.content.decode()
        assert "_auth_user_id" not in client.session


def test_the_right_password_before_the_limit_resets_every_spelling(client, greg, password):
    for n, spelling in enumerate(GREG[:4]):
        client.post("/login/", {"username": spelling, "password": f"wrong-{n}"})
    assert (
        client.post("/login/", {"username": "GREG@example.com", "password": password})["Location"]
        == "/tickets/"
    )
    client.post("/logout/")
    for n, spelling in enumerate(GREG[:4]):  # a fresh count after the success
        response = client.post("/login/", {"username": spelling, "password": f"wrong-{n}"})
        assert LOCKED not in response.content.decode()


def test_unknown_names_share_a_counter_in_any_case(client, demo):
    spellings = [
        "nobody@example.org",
        "NOBODY@example.org",
        " Nobody@Example.org ",
        "noBody@example.ORG",
    ]
    for n, spelling in enumerate([*spellings, "nobody@EXAMPLE.org"]):
        client.post("/login/", {"username": spelling, "password": f"wrong-{n}"})
    response = client.post("/login/", {"username": "nobody@example.org", "password": "x"})
    assert LOCKED in response.content.decode()


def test_another_account_is_not_locked_by_its_neighbour(client, karen, password):
    for n, spelling in enumerate(GREG):
        client.post("/login/", {"username": spelling, "password": f"wrong-{n}"})
    response = client.post("/login/", {"username": "karen@example.com", "password": password})
    assert response.status_code == 302
