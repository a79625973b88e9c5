"""Give a tenant the default clause library, SLA policy and contract template.

    python manage.py seed_contract_templates --tenant "Demo IT Services"

Idempotent: rows are looked up by their name (clause title, policy name, template name) and only missing ones are
created; existing rows are left as the tenant's administrators edited them. The texts are data (Chinese, like the
contracts they print), not UI strings. `call_command("seed_contract_templates", tenant=NAME)` works as well, so the
demo seeding can run it (CRM_DEMO_DATA_COMMANDS).
"""

from __future__ import annotations

from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import Tenant
from accounts.tenancy import tenant_scope
from contracts.choices import ServiceHours
from contracts.documents import compile_template_text
from contracts.models import Clause, ContractTemplate, SlaPolicy, TemplateClause

# (category, title, body). Clause texts are templates too: they may use the same placeholders as a template body.
CLAUSES = [
    (
        "confidentiality",
        "保密条款",
        "双方对在合同履行过程中知悉的对方商业秘密、技术资料、客户数据及其他保密信息负有保密义务，"
        "未经对方书面同意，不得向任何第三方披露或用于本合同以外的目的。\n\n"
        "保密义务在本合同终止后继续有效，期限为三年。法律法规另有规定或有权机关依法要求披露的除外。",
    ),
    (
        "sla",
        "服务水平",
        "{{ provider }}应按照本合同约定的服务水平（SLA）响应并处理{{ customer }}提出的服务请求，"
        "各优先级的首次响应时间和解决时间以本合同服务水平表为准。\n\n"
        "因乙方原因未达到约定服务水平的，双方按服务水平协议协商服务费扣减或补偿方式；"
        "因甲方原因、不可抗力或第三方原因造成的延误不计入考核。",
    ),
    (
        "payment",
        "付款条款",
        "本合同总金额为 {{ amount }}。"
        "{% if contract.payment_terms %}付款方式：{{ contract.payment_terms }}。{% endif %}\n\n"
        "乙方应在每期付款前开具合法有效的发票，甲方在收到发票后三十日内支付相应款项。逾期付款的，"
        "每逾期一日按应付未付金额的万分之五支付违约金。",
    ),
    (
        "liability",
        "责任限制",
        "任何一方因违约给对方造成损失的，应赔偿对方的直接损失；双方均不对间接损失、预期利润损失承担责任。\n\n"
        "除故意或重大过失外，乙方在本合同项下承担的赔偿责任总额不超过本合同总金额。",
    ),
    (
        "termination",
        "终止条款",
        "本合同于 {{ end_date|date:'Y年n月j日' }} 期满终止。任何一方严重违约且在收到书面通知后三十日内未予纠正的，"
        "守约方有权书面通知解除本合同。\n\n"
        "合同终止后，乙方应协助甲方完成服务交接，并返还或销毁甲方的资料和数据。",
    ),
]

SLA_POLICY_NAME = "标准 7x24"
SLA_TARGETS = {
    "P1": {"first_response_minutes": 15, "resolution_minutes": 240},
    "P2": {"first_response_minutes": 30, "resolution_minutes": 480},
    "P3": {"first_response_minutes": 120, "resolution_minutes": 1440},
    "P4": {"first_response_minutes": 480, "resolution_minutes": 4320},
}
SLA_AVAILABILITY = Decimal("99.9")

TEMPLATE_NAME = "标准IT运维服务合同"
TEMPLATE_BODY = """<p>甲方（客户）：{{ customer.customer_name }}</p>
<p>乙方（服务方）：{{ provider.name }}</p>
<p>甲乙双方经友好协商，就乙方向甲方提供 IT 运维服务事宜达成如下协议，以资共同遵守。</p>
<h2>一、服务内容与期限</h2>
<p>乙方为甲方提供{{ contract.contract_name }}所约定的 IT 运维服务\
{% if contract.service_level %}（服务级别：{{ contract.service_level }}）{% endif %}。\
服务期限自 {{ start_date|date:"Y年n月j日" }} 起至 {{ end_date|date:"Y年n月j日" }} 止。</p>
<h2>二、合同金额</h2>
<p>本合同总金额为 {{ amount }}（合同编号 {{ contract.contract_code }}）。</p>
<h2>三、服务水平</h2>
<p>各优先级的服务水平如下表：</p>
{{ sla_table }}
<h2>四、合同条款</h2>
{% for clause in clauses %}<h3>{{ clause.number }}. {{ clause.title }}</h3>
{{ clause.body }}
{% endfor %}<h2>五、其他</h2>
<p>本合同一式两份，双方各执一份，自双方签字盖章之日起生效。</p>
<p class="right">{{ today|date:"Y年n月j日" }}</p>
"""


class Command(BaseCommand):
    help = "Create the default clause library, SLA policy and contract template of a tenant (only missing ones)."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="tenant name")

    def handle(self, *args, tenant, **options):
        tenant_obj = Tenant.objects.filter(name=tenant).first()
        if tenant_obj is None:
            raise CommandError(f"Tenant '{tenant}' does not exist.")
        # The texts are ours, but they must stay valid for the sandbox whoever edits them later.
        compile_template_text(TEMPLATE_BODY)
        for _category, title, body in CLAUSES:
            compile_template_text(body, clause=title)
        with tenant_scope(tenant_obj), transaction.atomic():
            created = self._seed()
        self.stdout.write(
            self.style.SUCCESS(
                f"Contract library of '{tenant_obj.name}': {created['clauses']} clause(s), "
                f"{created['policies']} SLA policy, {created['templates']} template created."
            )
        )

    @staticmethod
    def _seed() -> dict[str, int]:
        created = {"clauses": 0, "policies": 0, "templates": 0}
        clauses = []
        for category, title, body in CLAUSES:
            clause = Clause.objects.filter(title=title).order_by("id").first()
            if clause is None:
                clause = Clause.objects.create(title=title, category=category, body=body)
                created["clauses"] += 1
            clauses.append(clause)

        _policy, policy_created = SlaPolicy.objects.get_or_create(
            name=SLA_POLICY_NAME,
            defaults={
                "service_hours": ServiceHours.ALWAYS,
                "availability_target": SLA_AVAILABILITY,
                "targets": SLA_TARGETS,
            },
        )
        created["policies"] += policy_created

        if not ContractTemplate.objects.filter(name=TEMPLATE_NAME).exists():
            template = ContractTemplate.objects.create(name=TEMPLATE_NAME, body=TEMPLATE_BODY)
            TemplateClause.objects.bulk_create(
                TemplateClause(template=template, clause=clause, position=(index + 1) * 10)
                for index, clause in enumerate(clauses)
            )
            created["templates"] += 1
        return created
