"""Two tenants on one server, through the client: neither sees, uses or deletes the other's
images, and each one's signed URLs open its own images only."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import progimage
import pytest
from progimage import Item, ProgImage
from progimage.signing import sign_url

from tests.client.conftest import API_KEY, SIGNING_KEY, TENANT_KEYS
from tests.images import decode

pytestmark = pytest.mark.e2e


def tenant_client(api: str, tenant: str) -> ProgImage:
    api_key, signing_key = TENANT_KEYS[tenant]
    return ProgImage(api, api_key=api_key, signing_key=signing_key, tenant=tenant)


@pytest.fixture
def alpha(api: str) -> Iterator[ProgImage]:
    with tenant_client(api, "alpha") as client:
        yield client


@pytest.fixture
def beta(api: str) -> Iterator[ProgImage]:
    with tenant_client(api, "beta") as client:
        yield client


@pytest.fixture
def alphas(alpha: ProgImage, png: bytes) -> progimage.ImageRecord:
    """An image of the tenant alpha."""
    return alpha.upload(png)


def test_a_tenant_reads_its_own_images_with_its_signed_urls(
    alpha: ProgImage, alphas: progimage.ImageRecord
) -> None:
    assert alpha.info(alphas.id) == alphas
    assert decode(alpha.get(alphas.id, "thumbnail:20.png")).size == (20, 20)
    url = alpha.signed_url(alphas.id, "thumbnail:21.png", expires_in=60)
    assert "?tenant=alpha&exp=" in url
    assert decode(httpx.get(url).content).size == (21, 21)
    assert alphas.id in {record.id for record in alpha.list(limit=100)}
    [result] = alpha.batch([Item(alphas.id, "thumbnail:22.png")])
    assert result.url is not None and "?tenant=alpha&exp=" in result.url
    assert decode(httpx.get(result.url).content).size == (22, 22)


def test_another_tenant_s_image_is_unknown(
    beta: ProgImage, api: str, alphas: progimage.ImageRecord
) -> None:
    with pytest.raises(progimage.NotFound):
        beta.info(alphas.id)
    with pytest.raises(progimage.NotFound):
        beta.delete(alphas.id)
    with pytest.raises(progimage.NotFound):
        beta.transform(alphas.id, "grayscale", store=True)
    [result] = beta.batch([Item(alphas.id, "thumbnail:8.png")])
    assert isinstance(result.error, progimage.NotFound)
    assert alphas.id not in {record.id for record in beta.list(limit=100)}
    with (
        ProgImage(api, api_key=API_KEY, signing_key=SIGNING_KEY) as default,
        pytest.raises(progimage.NotFound),
    ):
        default.info(alphas.id)


def test_a_tenant_s_job_is_unknown_to_another(
    alpha: ProgImage, beta: ProgImage, alphas: progimage.ImageRecord
) -> None:
    job = alpha.submit_job([Item(alphas.id, "thumbnail:9.png")])
    with pytest.raises(progimage.NotFound):
        beta.job(job.job_id)
    assert alpha.wait_for_job(job, timeout=60, poll_interval=0.2).succeeded == 1


def test_nothing_of_another_tenant_is_deleted(
    alpha: ProgImage, beta: ProgImage, alphas: progimage.ImageRecord
) -> None:
    with pytest.raises(progimage.NotFound):
        beta.delete(alphas.id)
    assert alpha.info(alphas.id).ready
    alpha.delete(alphas.id)
    with pytest.raises(progimage.NotFound):
        alpha.info(alphas.id)


def test_another_tenant_s_key_opens_no_url_of_this_one(
    api: str, alphas: progimage.ImageRecord
) -> None:
    _, beta_key = TENANT_KEYS["beta"]
    # Signed as beta (a valid signature): beta has no such image.
    as_beta = sign_url(api, alphas.id, "thumbnail:23.png", key=beta_key, tenant="beta")
    answer = httpx.get(as_beta)
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
    # Naming alpha, signed with beta's key: not alpha's signature.
    as_alpha = sign_url(api, alphas.id, "thumbnail:23.png", key=beta_key, tenant="alpha")
    answer = httpx.get(as_alpha)
    assert answer.status_code == 403 and answer.json()["error"]["param"] == "sig"
    with (
        ProgImage(api, signing_key=beta_key, tenant="alpha") as forged,
        pytest.raises(progimage.Forbidden),
    ):
        forged.get(alphas.id)
    # The default tenant's key (a URL naming no tenant) does not open it either.
    default = httpx.get(sign_url(api, alphas.id, "thumbnail:23.png", key=SIGNING_KEY))
    assert default.status_code == 404


def test_idempotency_keys_are_the_tenant_s_own(
    alpha: ProgImage, beta: ProgImage, png: bytes, jpeg: bytes
) -> None:
    key = f"one-key-two-tenants-{uuid.uuid4()}"
    first = alpha.upload(png, idempotency_key=key)
    other = beta.upload(jpeg, idempotency_key=key)  # another body: no conflict across tenants
    assert first.id != other.id and (first.format, other.format) == ("png", "jpeg")
    assert alpha.upload(png, idempotency_key=key) == first  # the replay is alpha's own


def test_the_tenant_comes_from_the_environment(
    env: pytest.MonkeyPatch, api: str, alphas: progimage.ImageRecord
) -> None:
    api_key, signing_key = TENANT_KEYS["alpha"]
    env.setenv("PROGIMAGE_API_KEY", api_key)
    env.setenv("PROGIMAGE_SIGNING_KEY", signing_key)
    env.setenv("PROGIMAGE_TENANT", "alpha")
    with ProgImage(api) as client:
        assert client.tenant == "alpha"
        assert decode(client.get(alphas.id, "thumbnail:24.png")).size == (24, 24)
    env.setenv("PROGIMAGE_TENANT", "Not A Tenant")
    with pytest.raises(ValueError, match="not a tenant name"):
        ProgImage(api)
