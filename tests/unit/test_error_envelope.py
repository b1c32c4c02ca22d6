import pytest
from pydantic import BaseModel, ValidationError

from shared.domain.kernel import errors
from shared.error_envelope import ErrorEnvelope, from_domain_error, from_validation_error


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.MalformedJsonError("x"), 400),
        (errors.InvalidInputError("x"), 400),
        (errors.PayloadTooLargeError("x"), 413),
        (errors.AuthenticationError("x"), 401),
        (errors.PermissionDeniedError("x"), 403),
        (errors.TouchpointNotFoundError("x"), 404),
        (errors.ConflictError("x"), 409),
        (errors.DependencyUnavailableError("x"), 503),
        (errors.ConfigurationError("x"), 500),
    ],
)
def test_each_error_type_has_its_status_and_code(error, status):
    got_status, body = from_domain_error(error)
    assert got_status == status
    assert ErrorEnvelope.model_validate(body).error.code == error.code


def test_validation_errors_list_each_field():
    class Body(BaseModel):
        count: int
        name: str

    with pytest.raises(ValidationError) as raised:
        Body.model_validate({"count": "many"})
    status, body = from_validation_error(raised.value)
    assert status == 400
    assert {detail["field"] for detail in body["error"]["details"]} == {"count", "name"}
