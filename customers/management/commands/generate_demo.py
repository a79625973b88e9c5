"""Generate realistic demo customers (with contacts and tags) for one tenant, fast and reproducibly.

    python manage.py generate_demo --tenant "Demo IT Services" --customers 1000 --seed 7

- Deterministic: the same seed on a tenant with the same number of customers produces the same data.
- Additive: every run adds N more customers. A tenant that already has customers gets a different random
  stream (the seed is combined with the current count), so a second run adds new names instead of repeating.
- Fast: customers, contacts and tags are written with bulk_create in batches of 2,000 inside one transaction
  per batch; codes are reserved with `code_next_many` (per creation day, so codes follow `created_at`).
- Managers are the tenant's active CSMs and leads; two CSMs are created when the tenant has none.
- Health scores and renewal dates are set directly: this is demo data, not the health-score job's result.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Tenant, User
from accounts.roles import CS_LEAD, CSM
from accounts.services import code_next_many, job_run, user_create
from accounts.tenancy import tenant_scope
from customers.choices import CustomerLevel, CustomerStatus, CustomerType, InfluenceLevel
from customers.models import Customer, CustomerContact, CustomerTag
from customers.services import normalize_name, primary_fields, set_derived_keys

BATCH_SIZE = 2000

# (Chinese city, pinyin, region)
CITIES = [
    ("北京", "Beijing", "华北"),
    ("天津", "Tianjin", "华北"),
    ("石家庄", "Shijiazhuang", "华北"),
    ("太原", "Taiyuan", "华北"),
    ("上海", "Shanghai", "华东"),
    ("杭州", "Hangzhou", "华东"),
    ("南京", "Nanjing", "华东"),
    ("苏州", "Suzhou", "华东"),
    ("宁波", "Ningbo", "华东"),
    ("合肥", "Hefei", "华东"),
    ("济南", "Jinan", "华东"),
    ("青岛", "Qingdao", "华东"),
    ("福州", "Fuzhou", "华东"),
    ("厦门", "Xiamen", "华东"),
    ("广州", "Guangzhou", "华南"),
    ("深圳", "Shenzhen", "华南"),
    ("东莞", "Dongguan", "华南"),
    ("佛山", "Foshan", "华南"),
    ("南宁", "Nanning", "华南"),
    ("海口", "Haikou", "华南"),
    ("武汉", "Wuhan", "华中"),
    ("长沙", "Changsha", "华中"),
    ("郑州", "Zhengzhou", "华中"),
    ("南昌", "Nanchang", "华中"),
    ("成都", "Chengdu", "西南"),
    ("重庆", "Chongqing", "西南"),
    ("昆明", "Kunming", "西南"),
    ("贵阳", "Guiyang", "西南"),
    ("西安", "Xi'an", "西北"),
    ("兰州", "Lanzhou", "西北"),
    ("银川", "Yinchuan", "西北"),
    ("乌鲁木齐", "Urumqi", "西北"),
    ("沈阳", "Shenyang", "东北"),
    ("大连", "Dalian", "东北"),
    ("长春", "Changchun", "东北"),
    ("哈尔滨", "Harbin", "东北"),
]
# (Chinese brand word, pinyin for domains and English names)
KEYWORDS = [
    ("云启", "Yunqi"),
    ("华信", "Huaxin"),
    ("中科", "Zhongke"),
    ("天元", "Tianyuan"),
    ("博远", "Boyuan"),
    ("创维", "Chuangwei"),
    ("恒通", "Hengtong"),
    ("联创", "Lianchuang"),
    ("星河", "Xinghe"),
    ("鼎盛", "Dingsheng"),
    ("汇智", "Huizhi"),
    ("锐捷", "Ruijie"),
    ("新航", "Xinhang"),
    ("东方", "Dongfang"),
    ("瑞达", "Ruida"),
    ("金桥", "Jinqiao"),
    ("长城", "Changcheng"),
    ("宏图", "Hongtu"),
    ("润泽", "Runze"),
    ("海纳", "Haina"),
    ("凌云", "Lingyun"),
    ("智远", "Zhiyuan"),
    ("华宇", "Huayu"),
    ("卓越", "Zhuoyue"),
    ("信达", "Xinda"),
    ("安泰", "Antai"),
    ("蓝海", "Lanhai"),
    ("明德", "Mingde"),
    ("正邦", "Zhengbang"),
    ("远景", "Yuanjing"),
    ("嘉禾", "Jiahe"),
    ("同方", "Tongfang"),
    ("九州", "Jiuzhou"),
    ("天成", "Tiancheng"),
    ("盛世", "Shengshi"),
    ("数联", "Shulian"),
    ("启明", "Qiming"),
    ("未来", "Weilai"),
    ("华创", "Huachuang"),
    ("优联", "Youlian"),
    ("中恒", "Zhongheng"),
    ("泰和", "Taihe"),
    ("万达", "Wanda"),
    ("融通", "Rongtong"),
    ("思源", "Siyuan"),
    ("天润", "Tianrun"),
    ("晨光", "Chenguang"),
    ("国泰", "Guotai"),
    ("乐享", "Lexiang"),
    ("银河", "Yinhe"),
    ("云帆", "Yunfan"),
    ("翔宇", "Xiangyu"),
    ("浩瀚", "Haohan"),
    ("立信", "Lixin"),
    ("瑞丰", "Ruifeng"),
    ("华夏", "Huaxia"),
    ("和信", "Hexin"),
    ("北辰", "Beichen"),
    ("南风", "Nanfeng"),
    ("东升", "Dongsheng"),
]
ENGLISH_WORDS = [
    "Northwind",
    "Bluepeak",
    "Silverline",
    "Redwood",
    "Brightpath",
    "Clearwater",
    "Ironbridge",
    "Greenfield",
    "Starlight",
    "Oakridge",
    "Summit",
    "Horizon",
    "Pinnacle",
    "Evergreen",
    "Crescent",
    "Golden Gate",
    "Skyline",
    "Harbor",
    "Maple",
    "Cobalt",
    "Falcon",
    "Lighthouse",
    "Riverside",
    "Stonegate",
    "Aurora",
    "Westbrook",
    "Blue Ocean",
    "Sunrise",
    "Keystone",
    "Granite",
    "Meridian",
    "Nimbus",
    "Orion",
    "Vertex",
    "Zenith",
    "Atlas",
]
# (industry, Chinese business word, English business word)
INDUSTRIES = [
    ("软件开发", "科技", "Software"),
    ("软件开发", "软件", "Technologies"),
    ("互联网", "网络科技", "Digital"),
    ("金融", "金融服务", "Financial Services"),
    ("金融", "投资", "Capital"),
    ("银行", "银行", "Bank"),
    ("保险", "保险", "Insurance"),
    ("制造", "机械制造", "Manufacturing"),
    ("制造", "电子", "Electronics"),
    ("汽车", "汽车", "Automotive"),
    ("零售", "商贸", "Retail"),
    ("零售", "连锁", "Stores"),
    ("医疗", "医疗器械", "Medical"),
    ("医疗", "医药", "Pharma"),
    ("教育", "教育科技", "Education"),
    ("政府", "信息中心", "Information Center"),
    ("物流", "物流", "Logistics"),
    ("物流", "供应链", "Supply Chain"),
    ("能源", "能源", "Energy"),
    ("能源", "新能源", "Power"),
    ("电信", "通信", "Telecom"),
    ("电信", "数据", "Cloud Services"),
    ("传媒", "文化传媒", "Media"),
    ("房地产", "置业", "Properties"),
]
CN_SUFFIXES = ["有限公司", "股份有限公司", "集团有限公司", "有限责任公司"]
EN_SUFFIXES = ["Ltd", "Co., Ltd.", "Inc.", "Group", "Corporation", "Holdings"]
GOV_BODIES = ["大数据局", "政务服务中心", "信息中心", "人民医院", "教育局", "税务局", "公安局信息中心", "交通运输局"]
SCALES = ["1-49", "50-199", "200-499", "500-999", "1000-4999", "5000+"]
SOURCES = ["官网", "展会", "转介绍", "电话营销", "合作伙伴", "招投标", "线上广告", "老客户"]
TAGS = [
    "重点客户",
    "续约风险",
    "高潜力",
    "信创",
    "等保三级",
    "多云",
    "云迁移",
    "7x24",
    "私有化部署",
    "混合云",
    "国产化",
    "SLA敏感",
    "增购机会",
    "Kubernetes",
    "数据库运维",
    "安全合规",
    "网络运维",
    "桌面运维",
]
SURNAMES = [
    ("王", "wang"),
    ("李", "li"),
    ("张", "zhang"),
    ("刘", "liu"),
    ("陈", "chen"),
    ("杨", "yang"),
    ("黄", "huang"),
    ("赵", "zhao"),
    ("吴", "wu"),
    ("周", "zhou"),
    ("徐", "xu"),
    ("孙", "sun"),
    ("马", "ma"),
    ("朱", "zhu"),
    ("胡", "hu"),
    ("郭", "guo"),
    ("何", "he"),
    ("林", "lin"),
    ("高", "gao"),
    ("罗", "luo"),
    ("郑", "zheng"),
    ("梁", "liang"),
    ("谢", "xie"),
    ("宋", "song"),
    ("唐", "tang"),
    ("许", "xu"),
    ("韩", "han"),
    ("冯", "feng"),
]
GIVEN = [
    ("伟", "wei"),
    ("芳", "fang"),
    ("娜", "na"),
    ("敏", "min"),
    ("静", "jing"),
    ("丽", "li"),
    ("强", "qiang"),
    ("磊", "lei"),
    ("军", "jun"),
    ("洋", "yang"),
    ("勇", "yong"),
    ("艳", "yan"),
    ("杰", "jie"),
    ("涛", "tao"),
    ("明", "ming"),
    ("超", "chao"),
    ("秀英", "xiuying"),
    ("霞", "xia"),
    ("平", "ping"),
    ("刚", "gang"),
    ("志强", "zhiqiang"),
    ("海燕", "haiyan"),
    ("建华", "jianhua"),
    ("晓东", "xiaodong"),
    ("雪", "xue"),
    ("子涵", "zihan"),
    ("浩然", "haoran"),
    ("雨欣", "yuxin"),
    ("思远", "siyuan"),
    ("佳怡", "jiayi"),
]
EN_FIRST = [
    "James",
    "Anna",
    "David",
    "Emma",
    "Michael",
    "Olivia",
    "Daniel",
    "Sophia",
    "Peter",
    "Grace",
    "Lucas",
    "Chloe",
    "Ryan",
    "Mia",
    "Henry",
    "Ella",
    "Jack",
    "Lily",
    "Kevin",
    "Amy",
]
EN_LAST = [
    "Smith",
    "Brown",
    "Wilson",
    "Taylor",
    "Clark",
    "Walker",
    "Hall",
    "Young",
    "King",
    "Wright",
    "Green",
    "Baker",
    "Adams",
    "Nelson",
    "Carter",
    "Mitchell",
    "Turner",
    "Parker",
    "Evans",
    "Collins",
]
POSITIONS = [
    "IT总监",
    "运维经理",
    "CTO",
    "CIO",
    "系统管理员",
    "采购经理",
    "网络工程师",
    "信息中心主任",
    "项目经理",
    "财务经理",
    "总经理",
    "安全主管",
]
DEPARTMENTS = ["信息技术部", "运维部", "采购部", "财务部", "总经办", "信息中心", "安全部"]
ROADS = ["人民路", "中山路", "解放路", "建设路", "科技路", "长江路", "黄河路", "世纪大道", "创新大道", "滨江路"]
DISTRICTS = ["高新区", "经开区", "朝阳区", "海淀区", "浦东新区", "南山区", "天河区", "江北区", "滨湖区", "武侯区"]
DESCRIPTIONS = [
    "IT 运维外包客户，关注响应时效。",
    "私有云与数据中心托管服务。",
    "桌面与网络运维，含驻场服务。",
    "数据库与中间件运维支持。",
    "安全合规与等保测评配套服务。",
    "Managed cloud operations with a 24x7 service desk.",
]
# Weighted choices: (value, weight)
STATUS_WEIGHTS = [(CustomerStatus.FORMAL, 55), (CustomerStatus.POTENTIAL, 30), (CustomerStatus.LOST, 15)]
LEVEL_WEIGHTS = [
    (CustomerLevel.NORMAL, 50),
    (CustomerLevel.IMPORTANT, 30),
    (CustomerLevel.VIP, 15),
    (CustomerLevel.STRATEGIC, 5),
]
TYPE_WEIGHTS = [(CustomerType.ENTERPRISE, 86), (CustomerType.GOVERNMENT, 10), (CustomerType.INDIVIDUAL, 4)]
CONTACT_COUNT_WEIGHTS = [(1, 25), (2, 30), (3, 25), (4, 12), (5, 8)]


def _weighted(rng: random.Random, pairs):
    values, weights = zip(*pairs, strict=True)
    return rng.choices(values, weights=weights, k=1)[0]


@contextmanager
def _keep_given_timestamps(*models):
    """bulk_create honours auto_now / auto_now_add: switch them off so generated dates are stored."""
    saved = []
    for model in models:
        for field in model._meta.concrete_fields:
            if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
                saved.append((field, field.auto_now, field.auto_now_add))
                field.auto_now = field.auto_now_add = False
    try:
        yield
    finally:
        for field, auto_now, auto_now_add in saved:
            field.auto_now, field.auto_now_add = auto_now, auto_now_add


class DemoGenerator:
    """Builds unsaved customers (with contacts and tags) from one random stream."""

    def __init__(self, rng: random.Random, *, now: datetime, taken_names: set[str]):
        self.rng = rng
        self.now = now
        self.taken = taken_names
        self.today = timezone.localdate(now)

    def _unique_name(self, make) -> str:
        for _attempt in range(6):
            name = make()
            if normalize_name(name) not in self.taken:
                break
        else:
            base, number = name, 2
            while normalize_name(f"{base} {number}") in self.taken:
                number += 1
            name = f"{base} {number}"
        self.taken.add(normalize_name(name))
        return name

    def person(self, chinese: bool) -> tuple[str, str]:
        """(display name, e-mail local part)."""
        rng = self.rng
        if chinese:
            surname, surname_py = rng.choice(SURNAMES)
            given, given_py = rng.choice(GIVEN)
            return surname + given, f"{given_py}.{surname_py}"
        first, last = rng.choice(EN_FIRST), rng.choice(EN_LAST)
        return f"{first} {last}", f"{first}.{last}".lower()

    def company(self) -> dict:
        rng = self.rng
        city, city_py, region = rng.choice(CITIES)
        industry, cn_word, en_word = rng.choice(INDUSTRIES)
        keyword, keyword_py = rng.choice(KEYWORDS)
        customer_type = _weighted(rng, TYPE_WEIGHTS)
        english = customer_type == CustomerType.ENTERPRISE and rng.random() < 0.22
        if customer_type == CustomerType.GOVERNMENT:
            industry = "政府"
            name = self._unique_name(lambda: f"{city}市{rng.choice(GOV_BODIES)}")
            domain = f"{city_py.lower().replace(chr(39), '')}.gov.cn"
        elif customer_type == CustomerType.INDIVIDUAL:
            name = self._unique_name(lambda: self.person(chinese=rng.random() < 0.8)[0])
            domain = ""
        elif english:
            word = rng.choice(ENGLISH_WORDS)
            name = self._unique_name(
                lambda: (
                    f"{rng.choice([word, city_py])} {rng.choice(ENGLISH_WORDS + [keyword_py])} {en_word} "
                    f"{rng.choice(EN_SUFFIXES)}"
                )
            )
            domain = f"{word.lower().replace(' ', '')}-{en_word.split()[0].lower()}.com"
        else:
            name = self._unique_name(
                lambda: f"{city}{rng.choice(KEYWORDS)[0]}{rng.choice(INDUSTRIES)[1]}{rng.choice(CN_SUFFIXES)}"
            )
            domain = f"{keyword_py.lower()}-{city_py.lower().replace(chr(39), '')}.cn"
        created_at = self.now - timedelta(seconds=rng.randint(0, 730 * 86400))
        status = _weighted(rng, STATUS_WEIGHTS)
        level = _weighted(rng, LEVEL_WEIGHTS)
        # Health: mostly healthy formal customers, weaker potential ones, lost ones low.
        centre = {CustomerStatus.FORMAL: 74, CustomerStatus.POTENTIAL: 60, CustomerStatus.LOST: 38}[status]
        health = min(98.0, max(20.0, rng.gauss(centre, 14)))
        renewal = None
        if status == CustomerStatus.FORMAL:
            renewal = self.today + timedelta(days=rng.randint(-30, 365))
        ltv = Decimal(rng.randint(20, 5000) * 1000) if status == CustomerStatus.FORMAL else Decimal(0)
        if domain and rng.random() < 0.85:
            website = f"https://www.{domain}"
        else:
            website = ""
        chinese = not english
        if chinese:
            address = f"{city}市{rng.choice(DISTRICTS)}{rng.choice(ROADS)}{rng.randint(1, 999)}号"
        else:
            address = (
                f"No. {rng.randint(1, 999)} {rng.choice(['Century Avenue', 'Keji Road', 'Binjiang Road'])}, {city_py}"
            )
        return {
            "customer_name": name,
            "customer_type": customer_type,
            "industry": industry,
            "scale": "" if customer_type == CustomerType.INDIVIDUAL else rng.choice(SCALES),
            "address": address,
            "website": website,
            "description": rng.choice(DESCRIPTIONS) if rng.random() < 0.6 else "",
            "status": status,
            "level": level,
            "source": rng.choice(SOURCES),
            "region": region,
            "health_score": Decimal(f"{health:.2f}"),
            "ltv": ltv,
            "next_renewal_date": renewal,
            "last_contact_date": self.now - timedelta(hours=rng.randint(1, 120 * 24)) if rng.random() < 0.8 else None,
            "created_at": created_at,
            "_domain": domain or "example.com",
            "_chinese": chinese,
        }

    def contacts(self, company: dict) -> list[dict]:
        rng = self.rng
        count = _weighted(rng, CONTACT_COUNT_WEIGHTS)
        people = []
        used_locals = set()
        for index in range(count):
            name, local = self.person(chinese=company["_chinese"] or rng.random() < 0.3)
            while local in used_locals:
                local = f"{local}{rng.randint(2, 99)}"
            used_locals.add(local)
            mobile = f"1{rng.choice('3456789')}{rng.randint(0, 999_999_999):09d}"
            phone = f"0{rng.randint(10, 999)}-{rng.randint(2000_0000, 8999_9999)}" if rng.random() < 0.35 else ""
            people.append(
                {
                    "contact_name": name,
                    "position": rng.choice(POSITIONS),
                    "department": rng.choice(DEPARTMENTS) if rng.random() < 0.6 else "",
                    "mobile": mobile,
                    "phone": phone,
                    "email": f"{local}@{company['_domain']}",
                    "is_primary": index == 0,
                    "is_decision_maker": index == 0 or rng.random() < 0.15,
                    "influence_level": InfluenceLevel.HIGH if index == 0 else rng.choice(list(InfluenceLevel)),
                    "created_at": company["created_at"],
                }
            )
        return people

    def tags(self) -> list[str]:
        count = _weighted(self.rng, [(0, 30), (1, 35), (2, 25), (3, 10)])
        return self.rng.sample(TAGS, count)


class Command(BaseCommand):
    help = "Add N realistic demo customers (contacts, tags) to a tenant; deterministic for a seed; always additive."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", dest="tenant", required=True, help="tenant name (or id)")
        parser.add_argument("--customers", dest="customers", type=int, default=100, help="how many to add")
        parser.add_argument("--seed", dest="seed", type=int, default=1, help="random seed (default 1)")

    def handle(self, *args, tenant, customers, seed, **options):
        if customers < 0:
            raise CommandError("--customers must be 0 or more")
        tenant_obj = self._tenant(tenant)
        started = time.monotonic()
        with tenant_scope(tenant_obj), job_run("generate_demo", tenant_obj) as counts:
            created = generate(tenant_obj, customers, seed=seed, counts=counts, progress=self._progress)
        elapsed = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Added {created} customers ({counts.get('contacts', 0)} contacts, {counts.get('tags', 0)} tags) "
                f"to '{tenant_obj.name}' in {elapsed:.2f} s."
            )
        )

    def _progress(self, done: int, total: int) -> None:
        if total >= 10_000 and done % 20_000 < BATCH_SIZE:
            self.stdout.write(f"  {done}/{total}")

    @staticmethod
    def _tenant(value) -> Tenant:
        if isinstance(value, Tenant):
            return value
        tenant = Tenant.objects.filter(name=str(value)).first()
        if tenant is None and str(value).isdigit():
            tenant = Tenant.objects.filter(pk=int(value)).first()
        if tenant is None:
            raise CommandError(f"No tenant named {value!r}.")
        return tenant


def demo_managers(tenant: Tenant) -> list[User]:
    """Active CSMs and leads of the tenant; two demo CSMs are created when there is none."""
    managers = list(
        User.objects.filter(tenant=tenant, is_active=True, groups__name__in=[CSM, CS_LEAD]).distinct().order_by("pk")
    )
    if managers:
        return managers
    for number in (1, 2):
        username = f"t{tenant.pk}-csm{number}"
        user = User.objects.filter(username=username).first()
        if user is None:
            user = user_create(
                tenant=tenant,
                username=username,
                password=settings.CRM_DEMO_PASSWORD,
                role=CSM,
                display_name=f"Demo CSM {number}",
                email=f"{username}@demo.example",
            )
        managers.append(user)
    return managers


def generate(tenant: Tenant, total: int, *, seed: int, counts: dict | None = None, progress=None) -> int:
    """Add `total` customers to `tenant` (inside its scope); returns how many were created."""
    counts = counts if counts is not None else {}
    if total <= 0:
        counts.update(customers=0, contacts=0, tags=0)
        return 0
    existing = Customer.objects.count()
    taken = set(Customer.objects.alive().values_list("normalized_name", flat=True))
    rng = random.Random(seed if existing == 0 else seed * 1_000_003 + existing)
    now = timezone.now().replace(microsecond=0)
    generator = DemoGenerator(rng, now=now, taken_names=taken)
    managers = demo_managers(tenant)
    weights = [3 if user.role == CSM else 1 for user in managers]

    companies = [generator.company() for _index in range(total)]
    # Codes per creation day, so a code's date matches its customer's created_at.
    by_day: dict = defaultdict(list)
    for index, company in enumerate(companies):
        by_day[timezone.localdate(company["created_at"])].append(index)
    codes: list[str] = [""] * total
    with transaction.atomic():  # one commit for all reservations
        for day in sorted(by_day):
            for index, code in zip(by_day[day], code_next_many("CUST", len(by_day[day]), day=day), strict=True):
                codes[index] = code
    # Oldest first, so ids grow with created_at like real data.
    order = sorted(range(total), key=lambda i: (companies[i]["created_at"], codes[i]))

    created = contacts_total = tags_total = 0
    with _keep_given_timestamps(Customer, CustomerContact, CustomerTag):
        for start in range(0, total, BATCH_SIZE):
            batch = order[start : start + BATCH_SIZE]
            customers, contact_rows, tag_rows = [], [], []
            for index in batch:
                company = companies[index]
                manager = rng.choices(managers, weights=weights, k=1)[0]
                fields = {k: v for k, v in company.items() if not k.startswith("_")}
                customer = Customer(
                    tenant=tenant,
                    customer_code=codes[index],
                    assigned_manager=manager,
                    created_by=manager,
                    updated_at=company["created_at"],
                    **fields,
                )
                set_derived_keys(customer)  # the services' name key and website domain
                customers.append(customer)
                contact_rows.append(generator.contacts(company))
                tag_rows.append(generator.tags())
            with transaction.atomic():
                Customer.objects.bulk_create(customers, batch_size=BATCH_SIZE)
                if any(customer.pk is None for customer in customers):  # databases without RETURNING
                    ids = dict(
                        Customer.objects.filter(customer_code__in=[c.customer_code for c in customers]).values_list(
                            "customer_code", "pk"
                        )
                    )
                    for customer in customers:
                        customer.pk = ids[customer.customer_code]
                contacts, tags = [], []
                for customer, people, names in zip(customers, contact_rows, tag_rows, strict=True):
                    for person in people:
                        contacts.append(
                            CustomerContact(
                                tenant=tenant,
                                customer_id=customer.pk,
                                updated_at=person["created_at"],
                                **{**person, **primary_fields(person["is_primary"])},
                            )
                        )
                    for name in names:
                        tags.append(
                            CustomerTag(
                                tenant=tenant,
                                customer_id=customer.pk,
                                tag_name=name,
                                created_at=customer.created_at,
                                updated_at=customer.created_at,
                            )
                        )
                CustomerContact.objects.bulk_create(contacts, batch_size=BATCH_SIZE)
                CustomerTag.objects.bulk_create(tags, batch_size=BATCH_SIZE)
            created += len(customers)
            contacts_total += len(contacts)
            tags_total += len(tags)
            if progress is not None:
                progress(created, total)
    counts.update(customers=created, contacts=contacts_total, tags=tags_total)
    if created >= 1000:
        refresh_statistics()
    return created


def refresh_statistics() -> None:
    """Update the planner statistics after a bulk load.

    Without them SQLite picks a poor index for small lookups (e.g. a customer's tags through the tenant/tag-name
    index, which scans every tag of the tenant). InnoDB refreshes its statistics by itself, but only after 10 % of
    a table changed; ANALYZE TABLE is cheap (sampled) and makes the first queries after the load plan well.
    """
    tables = [model._meta.db_table for model in (Customer, CustomerContact, CustomerTag)]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for table in tables:
                cursor.execute(f'ANALYZE "{table}"')
        elif connection.vendor == "mysql":
            cursor.execute("ANALYZE TABLE " + ", ".join(f"`{table}`" for table in tables))
            cursor.fetchall()
