"""The connectcampaignsv2 Connect-instance operations through boto3."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError

from harness import error_of
from test_v2_campaigns import LIMITS, new_v2, validation

DOMAIN = "arn:aws:profile:us-east-1:123456789012:domains/d-1"
KB = "arn:aws:wisdom:us-east-1:123456789012:knowledge-base/kb-1"
LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:pick"


def onboarded(v2) -> str:
    instance = f"inst-{uuid.uuid4().hex[:12]}"
    job = v2.start_instance_onboarding_job(connectInstanceId=instance, encryptionConfig={"enabled": False})
    assert job["connectInstanceOnboardingJobStatus"]["status"] == "SUCCEEDED"
    return instance


def test_onboarding_and_config_are_v1_records(v2, client):
    instance = onboarded(v2)
    assert v2.get_instance_onboarding_job_status(connectInstanceId=instance)["connectInstanceOnboardingJobStatus"] == {
        "connectInstanceId": instance,
        "status": "SUCCEEDED",
    }
    config = v2.get_connect_instance_config(connectInstanceId=instance)["connectInstanceConfig"]
    assert config == client.get_connect_instance_config(connectInstanceId=instance)["connectInstanceConfig"]
    v2.delete_instance_onboarding_job(connectInstanceId=instance)
    with pytest.raises(ClientError) as e:
        v2.get_instance_onboarding_job_status(connectInstanceId=instance)
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)


def test_delete_config_retains_or_deletes_campaigns(v2):
    instance = onboarded(v2)
    c = new_v2(v2, connectInstanceId=instance)
    v2.start_campaign(id=c["id"])
    with pytest.raises(ClientError) as e:
        v2.delete_connect_instance_config(connectInstanceId=instance, campaignDeletionPolicy="RETAIN_ALL")
    assert error_of(e)[:2] == ("InvalidStateException", 409)
    v2.delete_connect_instance_config(connectInstanceId=instance, campaignDeletionPolicy="DELETE_ALL")
    with pytest.raises(ClientError) as e:
        v2.describe_campaign(id=c["id"])
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as e:
        v2.get_connect_instance_config(connectInstanceId=instance)
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)


def test_delete_config_refuses_an_unknown_policy(loose_v2):
    with pytest.raises(ClientError) as e:
        loose_v2.delete_connect_instance_config(connectInstanceId="i-1", campaignDeletionPolicy="SOME")
    assert "campaignDeletionPolicy" in validation(e)


def test_integrations_are_stored_listed_and_deleted(v2):
    instance = onboarded(v2)
    configs = [
        {"customerProfiles": {"domainArn": DOMAIN, "objectTypeNames": {"Campaign-SMS": "sms-type"}}},
        {"qConnect": {"knowledgeBaseArn": KB}},
        {"lambda": {"functionArn": LAMBDA}},
    ]
    for config in configs:
        v2.put_connect_instance_integration(connectInstanceId=instance, integrationConfig=config)
    first = v2.list_connect_instance_integrations(connectInstanceId=instance, maxResults=2)
    rest = v2.list_connect_instance_integrations(connectInstanceId=instance, nextToken=first["nextToken"])
    listed = first["integrationSummaryList"] + rest["integrationSummaryList"]
    assert sorted(listed, key=str) == sorted(configs, key=str)
    assert "nextToken" not in rest
    v2.delete_connect_instance_integration(connectInstanceId=instance, integrationIdentifier={"lambda": {"functionArn": LAMBDA}})
    left = v2.list_connect_instance_integrations(connectInstanceId=instance)["integrationSummaryList"]
    assert {"lambda": {"functionArn": LAMBDA}} not in left and len(left) == 2
    with pytest.raises(ClientError) as e:
        v2.delete_connect_instance_integration(connectInstanceId=instance, integrationIdentifier={"lambda": {"functionArn": LAMBDA}})
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)


def test_integrations_need_an_onboarded_instance_and_valid_input(v2, loose_v2):
    with pytest.raises(ClientError) as e:
        v2.put_connect_instance_integration(connectInstanceId="never-onboarded", integrationConfig={"qConnect": {"knowledgeBaseArn": KB}})
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as e:
        v2.list_connect_instance_integrations(connectInstanceId="never-onboarded")
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)
    instance = onboarded(v2)
    for bad, path in [
        ({}, "integrationConfig"),
        ({"lambda": {"functionArn": "arn:aws:lambda:us-east-1:1:function:f"}}, "integrationConfig.lambda.functionArn"),
        ({"customerProfiles": {"domainArn": DOMAIN, "objectTypeNames": {"Campaign-Fax": "x"}}}, "objectTypeNames.key"),
    ]:
        with pytest.raises(ClientError) as e:
            loose_v2.put_connect_instance_integration(connectInstanceId=instance, integrationConfig=bad)
        assert path in validation(e)
    with pytest.raises(ClientError) as e:
        loose_v2.list_connect_instance_integrations(connectInstanceId=instance, maxResults=51)
    assert "maxResults" in validation(e)
    with pytest.raises(ClientError) as e:
        loose_v2.list_connect_instance_integrations(connectInstanceId=instance, nextToken="garbage")
    assert "nextToken" in validation(e)


def test_instance_communication_limits_round_trip(v2, loose_v2):
    instance = onboarded(v2)
    assert "communicationLimitsConfig" not in v2.get_instance_communication_limits(connectInstanceId=instance)
    limits = {"allChannelSubtypes": LIMITS["allChannelSubtypes"]}
    v2.put_instance_communication_limits(connectInstanceId=instance, communicationLimitsConfig=limits)
    assert v2.get_instance_communication_limits(connectInstanceId=instance)["communicationLimitsConfig"] == limits
    with pytest.raises(ClientError) as e:
        v2.put_instance_communication_limits(connectInstanceId="never-onboarded", communicationLimitsConfig=limits)
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as e:
        loose_v2.put_instance_communication_limits(
            connectInstanceId=instance,
            communicationLimitsConfig={"allChannelSubtypes": {"communicationLimitsList": [{"maxCountPerRecipient": 0, "frequency": 1, "unit": "DAY"}]}},
        )
    assert "maxCountPerRecipient" in validation(e)
    with pytest.raises(ClientError) as e:
        loose_v2.get_instance_communication_limits(connectInstanceId="bad id")
    assert "connectInstanceId" in validation(e)
