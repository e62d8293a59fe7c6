"""Agent panel sign-in: plain errors, throttling, requesters kept out, password, profile."""

LOGIN = "/staff/login/"


def signed_in_as(client):
    return client.session.get("_auth_user_id")


def test_login_page_has_labelled_fields(client, demo):
    html = client.get(LOGIN).content.decode()
    assert 'for="id_username"' in html and 'for="id_password"' in html
    assert "Agent sign in" in html


def test_agent_signs_in_and_lands_on_the_dashboard(client, john, password):
    response = client.post(LOGIN, {"username": "john", "password": password})
    assert response.status_code == 302 and response.url == "/staff/"
    assert signed_in_as(client) == str(john.pk)
    assert client.get("/staff/").status_code == 200
    # Signing in again while signed in just goes to the panel.
    assert client.get(LOGIN).url == "/staff/"


def test_agent_signs_in_with_email_and_follows_next(client, john, password):
    response = client.post(
        LOGIN + "?next=/staff/queues/mine/",
        {"username": "john@helpline.example", "password": password, "next": "/staff/queues/mine/"},
    )
    assert response.status_code == 302 and response.url == "/staff/queues/mine/"


def test_wrong_password_shows_a_plain_message(client, john):
    response = client.post(LOGIN, {"username": "john", "password": "not-it"})
    assert response.status_code == 200
    assert "Wrong username or password." in response.content.decode()
    assert signed_in_as(client) is None


def test_sixth_attempt_is_locked_out_even_with_the_right_password(client, john, password):
    for _ in range(4):
        response = client.post(LOGIN, {"username": "john", "password": "wrong"})
        assert "Wrong username or password." in response.content.decode()
    # The fifth failure reaches the limit: that answer already says so.
    response = client.post(LOGIN, {"username": "john", "password": "wrong"})
    assert response.status_code == 429
    response = client.post(LOGIN, {"username": "john", "password": password})
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.content.decode()
    assert signed_in_as(client) is None


def test_lockout_is_per_account(client, john, jane, password):
    for _ in range(5):
        client.post(LOGIN, {"username": "john", "password": "wrong"})
    response = client.post(LOGIN, {"username": "jane", "password": password})
    assert response.status_code == 302 and signed_in_as(client) == str(jane.pk)


def test_requester_is_told_plainly_they_have_no_agent_access(client, karen, password):
    response = client.post(LOGIN, {"username": "karen", "password": password})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Karen Miller has no agent access." in html
    assert signed_in_as(client) is None


def test_requester_signed_in_on_the_portal_is_refused_from_every_staff_page(client, karen):
    client.force_login(karen)
    for url in ("/staff/", "/staff/queues/open/", "/staff/search/?q=1", "/staff/profile/",
                "/staff/password/", "/staff/searches/1/"):  # fmt: skip
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith("/staff/login/?next="), url
    page = client.get(LOGIN).content.decode()
    assert "You are signed in as Karen Miller, who has no agent access." in page
    response = client.post("/staff/bulk/", {"action": "status"})
    assert response.status_code == 302 and response.url.startswith("/staff/login/")


def test_anonymous_visitor_goes_to_login(client, demo):
    response = client.get("/staff/queues/open/")
    assert response.status_code == 302
    assert response.url == "/staff/login/?next=/staff/queues/open/"


def test_sign_out_is_a_post(client, john):
    client.force_login(john)
    assert client.get("/staff/logout/").status_code == 405
    assert signed_in_as(client) == str(john.pk)
    response = client.post("/staff/logout/")
    assert response.status_code == 302 and response.url == "/staff/login/"
    assert signed_in_as(client) is None


def test_sign_out_needs_the_csrf_token(john):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(john)
    assert strict.post("/staff/logout/").status_code == 403


def test_password_change(client, john, password):
    client.force_login(john)
    assert client.get("/staff/password/").status_code == 200
    bad = client.post(
        "/staff/password/",
        {"old_password": "nope", "new_password1": "x", "new_password2": "y"},
    )
    assert bad.status_code == 200 and "incorrectly" in bad.content.decode()
    response = client.post(
        "/staff/password/",
        {"old_password": password, "new_password1": "Tulip-Harbour-93",
         "new_password2": "Tulip-Harbour-93"},
    )  # fmt: skip
    assert response.status_code == 302 and response.url == "/staff/password/done/"
    john.refresh_from_db()
    assert john.check_password("Tulip-Harbour-93")
    assert signed_in_as(client) == str(john.pk)  # still signed in


def test_profile_sets_time_zone_and_signature(client, john):
    client.force_login(john)
    html = client.get("/staff/profile/").content.decode()
    assert 'for="id_timezone"' in html and 'for="id_signature"' in html
    response = client.post(
        "/staff/profile/", {"timezone": "Europe/Paris", "signature": "John, Support"}
    )
    assert response.status_code == 302
    john.agent.refresh_from_db()
    assert (john.agent.timezone, john.agent.signature) == ("Europe/Paris", "John, Support")
    bad = client.post("/staff/profile/", {"timezone": "Mars/Olympus", "signature": ""})
    assert bad.status_code == 200 and "Select a valid choice" in bad.content.decode()
    john.agent.refresh_from_db()
    assert john.agent.timezone == "Europe/Paris"
