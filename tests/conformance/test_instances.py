"""Connect-instance operations: onboarding jobs and instance configs."""

import uuid

import pytest
from botocore.exceptions import ClientError

from harness import error_of, new_campaign

ROLE = "arn:aws:iam::123456789012:role/aws-service-role/connect-campaigns.amazonaws.com/AWSServiceRoleForConnectCampaigns"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def instance_id():
    return f"inst-{uuid.uuid4().hex[:12]}"


def not_found(call, **kwargs):
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    code, status, response = error_of(e)
    assert (code, status) == ("ResourceNotFoundException", 404)
    assert response["Error"]["Message"]


def test_onboarding_creates_job_and_config(client):
    inst = instance_id()
    out = client.start_instance_onboarding_job(
        connectInstanceId=inst,
        encryptionConfig={"enabled": True, "encryptionType": "KMS", "keyArn": KEY_ARN},
    )
    job = out["connectInstanceOnboardingJobStatus"]
    assert job["connectInstanceId"] == inst
    assert job["status"] in ("IN_PROGRESS", "SUCCEEDED")
    status = client.get_instance_onboarding_job_status(connectInstanceId=inst)["connectInstanceOnboardingJobStatus"]
    assert status["connectInstanceId"] == inst
    assert status["status"] == "SUCCEEDED"
    assert "failureCode" not in status

    config = client.get_connect_instance_config(connectInstanceId=inst)["connectInstanceConfig"]
    assert config == {
        "connectInstanceId": inst,
        "serviceLinkedRoleArn": ROLE,
        "encryptionConfig": {"enabled": True, "encryptionType": "KMS", "keyArn": KEY_ARN},
    }


def test_onboarding_again_replaces_the_encryption_config(client):
    inst = instance_id()
    client.start_instance_onboarding_job(
        connectInstanceId=inst,
        encryptionConfig={"enabled": True, "encryptionType": "KMS", "keyArn": KEY_ARN},
    )
    client.start_instance_onboarding_job(connectInstanceId=inst, encryptionConfig={"enabled": False})
    config = client.get_connect_instance_config(connectInstanceId=inst)["connectInstanceConfig"]
    assert config["encryptionConfig"] == {"enabled": False}


def test_unknown_instance_is_not_found(client):
    inst = instance_id()
    not_found(client.get_instance_onboarding_job_status, connectInstanceId=inst)
    not_found(client.get_connect_instance_config, connectInstanceId=inst)
    not_found(client.delete_connect_instance_config, connectInstanceId=inst)
    not_found(client.delete_instance_onboarding_job, connectInstanceId=inst)


def test_delete_onboarding_job_then_status_is_not_found(client):
    inst = instance_id()
    client.start_instance_onboarding_job(connectInstanceId=inst, encryptionConfig={"enabled": False})
    out = client.delete_instance_onboarding_job(connectInstanceId=inst)
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 200
    not_found(client.get_instance_onboarding_job_status, connectInstanceId=inst)
    not_found(client.delete_instance_onboarding_job, connectInstanceId=inst)


def test_delete_config_then_get_is_not_found(client):
    inst = instance_id()
    client.start_instance_onboarding_job(connectInstanceId=inst, encryptionConfig={"enabled": False})
    out = client.delete_connect_instance_config(connectInstanceId=inst)
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 200
    not_found(client.get_connect_instance_config, connectInstanceId=inst)
    not_found(client.delete_connect_instance_config, connectInstanceId=inst)


@pytest.mark.parametrize("lifecycle", [[], ["start_campaign"], ["start_campaign", "pause_campaign"]])
def test_delete_config_with_an_active_campaign_is_invalid_state(client, lifecycle):
    inst = instance_id()
    client.start_instance_onboarding_job(connectInstanceId=inst, encryptionConfig={"enabled": False})
    c = new_campaign(client, instance=inst)
    for step in lifecycle:
        getattr(client, step)(id=c["id"])
    with pytest.raises(ClientError) as e:
        client.delete_connect_instance_config(connectInstanceId=inst)
    code, status, response = error_of(e)
    assert (code, status) == ("InvalidStateException", 409)
    assert response["Error"]["Message"]
    # Refused means untouched; once the campaign has ended the config may go.
    assert client.get_connect_instance_config(connectInstanceId=inst)["connectInstanceConfig"]["connectInstanceId"] == inst
    client.stop_campaign(id=c["id"])
    client.delete_connect_instance_config(connectInstanceId=inst)
    not_found(client.get_connect_instance_config, connectInstanceId=inst)
