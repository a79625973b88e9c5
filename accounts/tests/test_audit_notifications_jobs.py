import pytest
from django.core import mail

from accounts.models import AuditLog, JobRun, Notification
from accounts.services import audit_record, job_run, mask_value, notify
from accounts.tenancy import tenant_scope, unscoped


def test_audit_entry_records_actor_changes_ip_and_trace(owner, rf):
    request = rf.get("/", REMOTE_ADDR="10.1.2.3")
    entry = audit_record(
        action="crm.customer.updated",
        actor=owner,
        object_type="customers.customer",
        object_id=7,
        changes={"level": (1, 3), "password": ("old-secret", "new-secret"), "mobile": ("13800138000", "13900139000")},
        request=request,
    )
    assert entry.tenant_id == owner.tenant_id and entry.actor == owner
    assert entry.changes["level"] == {"old": 1, "new": 3}
    assert entry.changes["password"] == {"old": "***", "new": "***"}
    assert entry.changes["mobile"]["new"] == "139***00"
    assert entry.ip_address == "10.1.2.3"


def test_audit_log_is_append_only(owner):
    entry = audit_record(action="crm.test.done", actor=owner)
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()
    with tenant_scope(owner.tenant):
        with pytest.raises(PermissionError):
            AuditLog.objects.filter(pk=entry.pk).update(action="x")
        with pytest.raises(PermissionError):
            AuditLog.objects.filter(pk=entry.pk).delete()


@pytest.mark.parametrize(
    ("field", "value", "masked"),
    [("email", "zhang@abc-tech.com", "z***@abc-tech.com"), ("api_secret", "abc", "***"), ("level", 3, 3)],
)
def test_mask_value(field, value, masked):
    assert mask_value(field, value) == masked


def test_tenant_admin_browses_only_own_tenant_audit_log(owner, outsider, staff_client_as):
    audit_record(action="crm.mine.done", actor=owner)
    audit_record(action="crm.theirs.done", actor=outsider)
    body = staff_client_as(owner).get("/accounts/audit/").content.decode()
    assert "crm.mine.done" in body and "crm.theirs.done" not in body
    filtered = staff_client_as(owner).get("/accounts/audit/?action=crm.nothing").content.decode()
    assert "crm.mine.done" not in filtered


def test_csm_cannot_open_the_audit_log(teammate, staff_client_as):
    assert staff_client_as(teammate).get("/accounts/audit/").status_code == 403


def test_notify_deduplicates_by_key_and_emails_once(owner):
    first = notify(owner, "renewal", owner, "Contract CT1 ends in 90 days", dedup_key="renewal:1:2026")
    second = notify(owner, "renewal", owner, "Contract CT1 ends in 90 days", dedup_key="renewal:1:2026")
    assert first is not None and second is None
    with tenant_scope(owner.tenant):
        assert Notification.objects.filter(recipient=owner).count() == 1
        assert Notification.objects.get().emailed_at is not None
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [owner.email]


def test_bell_shows_unread_count_and_mark_read_clears_it(owner, staff_client_as):
    note = notify(owner, "info", None, "Hello there", email=False)
    client = staff_client_as(owner)
    page = client.get("/").content.decode()
    assert 'id="unread-count"' in page
    client.post(f"/accounts/notifications/{note.pk}/read/")
    with tenant_scope(owner.tenant):
        assert Notification.objects.filter(read_at__isnull=True).count() == 0
    assert 'id="unread-count"' not in client.get("/").content.decode()


def test_job_run_records_success_with_counts(tenant):
    with job_run("demo_job", tenant) as counts:
        counts["processed"] = 3
    with unscoped("test reads job runs"):
        run = JobRun.objects.get(job_name="demo_job")
    assert run.status == JobRun.Status.SUCCEEDED and run.counts == {"processed": 3} and run.finished_at


def test_job_run_records_failure_and_reraises(tenant):
    with pytest.raises(ZeroDivisionError):
        with job_run("broken_job", tenant):
            1 / 0  # noqa: B018
    with unscoped("test reads job runs"):
        run = JobRun.objects.get(job_name="broken_job")
    assert run.status == JobRun.Status.FAILED and "ZeroDivisionError" in run.error


def test_job_runs_page_for_admins(owner, teammate, staff_client_as, tenant):
    with job_run("visible_job", tenant):
        pass
    assert "visible_job" in staff_client_as(owner).get("/accounts/jobs/").content.decode()
    assert staff_client_as(teammate).get("/accounts/jobs/").status_code == 403
