"""Access keys belong to accounts, through boto3: two keys in two accounts on one daemon."""

import uuid

import pytest
from botocore.exceptions import ClientError

from harness import ACCESS_KEY, dial_request, error_of, new_campaign

DEFAULT_ACCOUNT = "123456789012"
ACCOUNT_B = "222222222222"
KEY_B = ("AKIDACCOUNTB", "secret-of-b", ACCOUNT_B)


@pytest.fixture(scope="module")
def clients(spawn):
    """(client of the default account, client of account B)."""
    daemon = spawn("accounts", access_keys=(ACCESS_KEY, KEY_B))
    return daemon.client(), daemon.client(KEY_B[:2])


def refused(call, **kwargs) -> tuple[str, int]:
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    return error_of(e)[:2]


def test_arns_name_the_creators_account(clients):
    a, b = clients
    mine, theirs = new_campaign(a), new_campaign(b)
    assert mine["arn"] == f"arn:aws:connect-campaigns:us-east-1:{DEFAULT_ACCOUNT}:campaign/{mine['id']}"
    assert theirs["arn"] == f"arn:aws:connect-campaigns:us-east-1:{ACCOUNT_B}:campaign/{theirs['id']}"
    assert b.describe_campaign(id=theirs["id"])["campaign"]["arn"] == theirs["arn"]


def test_another_accounts_campaign_does_not_exist(clients):
    a, b = clients
    c = new_campaign(a)
    not_found = ("ResourceNotFoundException", 404)
    assert refused(b.describe_campaign, id=c["id"]) == not_found
    assert refused(b.get_campaign_state, id=c["id"]) == not_found
    assert refused(b.start_campaign, id=c["id"]) == not_found
    assert refused(b.update_campaign_name, id=c["id"], name="taken") == not_found
    assert refused(b.put_dial_request_batch, id=c["id"], dialRequests=[dial_request("t-1")]) == not_found
    assert refused(b.delete_campaign, id=c["id"]) == not_found
    assert a.describe_campaign(id=c["id"])["campaign"]["name"] == c["name"]
    assert a.get_campaign_state(id=c["id"])["state"] == "Initialized"


def test_lists_leave_out_other_accounts(clients):
    a, b = clients
    instance = f"inst-{uuid.uuid4().hex[:12]}"
    mine, theirs = new_campaign(a, instance), new_campaign(b, instance)
    listed = b.list_campaigns(filters={"instanceIdFilter": {"value": instance, "operator": "Eq"}})
    assert [s["id"] for s in listed["campaignSummaryList"]] == [theirs["id"]]
    assert mine["id"] not in {s["id"] for s in b.list_campaigns()["campaignSummaryList"]}
    batch = b.get_campaign_state_batch(campaignIds=[mine["id"], theirs["id"]])
    assert batch["successfulRequests"] == [{"campaignId": theirs["id"], "state": "Initialized"}]
    assert batch["failedRequests"] == [{"campaignId": mine["id"], "failureCode": "ResourceNotFound"}]


def test_tagging_another_accounts_arn_is_denied(clients):
    a, b = clients
    c = new_campaign(a, tags={"team": "blue"})
    denied = ("AccessDeniedException", 403)
    assert refused(b.list_tags_for_resource, arn=c["arn"]) == denied
    assert refused(b.tag_resource, arn=c["arn"], tags={"team": "red"}) == denied
    assert refused(b.untag_resource, arn=c["arn"], tagKeys=["team"]) == denied
    assert a.list_tags_for_resource(arn=c["arn"])["tags"] == {"team": "blue"}
