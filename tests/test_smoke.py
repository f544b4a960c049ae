from tests.conftest import bearer


def test_health(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"] == {"database": "ok", "queue": "ok"}


def test_community_api(client, community, token_for):
    secret = token_for(community=community)
    response = client.get("/api/v1/communities/shilipu", headers=bearer(secret))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["resident_group_count"] == 3
