"""Columns, choices, limits and errors of the customer import (shared by its steps)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from django.utils.translation import gettext_lazy

from customers.choices import CustomerLevel, CustomerStatus, CustomerType

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_ROWS = 50_000
# An XLSX is a zip: refuse archives that would inflate beyond this (decompression bombs).
MAX_XLSX_UNCOMPRESSED_BYTES = 300 * 1024 * 1024
BATCH_SIZE = 1000
# Stored previews older than this are removed when the next upload arrives.
STORE_MAX_AGE_SECONDS = 24 * 3600

CUSTOMER_COLUMNS = (
    "customer_code",
    "customer_name",
    "customer_type",
    "industry",
    "scale",
    "region",
    "level",
    "status",
    "website",
    "address",
    "source",
    "description",
    "assigned_manager",
    "tags",
)
CONTACT_COLUMNS = ("contact_name", "position", "department", "mobile", "phone", "email", "wechat", "is_primary")
COLUMNS = CUSTOMER_COLUMNS + CONTACT_COLUMNS
# Columns of the export that the import reads past (computed or historical values).
EXPORT_ONLY_COLUMNS = ("health_score", "created_at")
# Customer fields copied from a row (the others are derived or need a lookup).
_PLAIN_CUSTOMER_FIELDS = ("industry", "scale", "region", "website", "address", "source", "description")
_CHOICE_FIELDS = {"customer_type": CustomerType, "level": CustomerLevel, "status": CustomerStatus}
_CONTACT_TEXT_FIELDS = ("contact_name", "position", "department", "mobile", "phone", "email", "wechat")

# Chinese labels of the PRD, accepted whatever the translation catalog says.
_EXTRA_CHOICE_LABELS = {
    "customer_type": {"企业": 1, "政府": 2, "个人": 3},
    "status": {"潜在": 1, "潜在客户": 1, "正式": 2, "正式客户": 2, "流失": 3, "流失客户": 3},
    "level": {"普通": 1, "重要": 2, "vip": 3, "战略": 4},
}
_HEADER_ALIASES = {
    "客户编号": "customer_code",
    "客户编码": "customer_code",
    "code": "customer_code",
    "客户名称": "customer_name",
    "公司名称": "customer_name",
    "name": "customer_name",
    "客户类型": "customer_type",
    "type": "customer_type",
    "行业": "industry",
    "规模": "scale",
    "区域": "region",
    "地区": "region",
    "等级": "level",
    "客户等级": "level",
    "状态": "status",
    "客户状态": "status",
    "网站": "website",
    "官网": "website",
    "地址": "address",
    "来源": "source",
    "描述": "description",
    "备注": "description",
    "客户经理": "assigned_manager",
    "负责人": "assigned_manager",
    "manager": "assigned_manager",
    "标签": "tags",
    "联系人": "contact_name",
    "联系人姓名": "contact_name",
    "primary_contact_name": "contact_name",
    "职位": "position",
    "部门": "department",
    "手机": "mobile",
    "手机号": "mobile",
    "电话": "phone",
    "座机": "phone",
    "邮箱": "email",
    "电子邮件": "email",
    "e_mail": "email",
    "微信": "wechat",
    "主联系人": "is_primary",
    "是否主联系人": "is_primary",
    "primary": "is_primary",
    "健康度": "health_score",
    "创建时间": "created_at",
}
_TRUE = {"1", "true", "yes", "y", "x", "是", "主", "✓", "√"}
_FALSE = {"", "0", "false", "no", "n", "否"}
_TOKEN = re.compile(r"^[0-9a-f]{32}$")

ACTION_NEW = "new"
ACTION_UPDATE = "update"
ACTION_DUPLICATE = "duplicate"
ACTION_LABELS = {
    ACTION_NEW: gettext_lazy("New"),
    ACTION_UPDATE: gettext_lazy("Update"),
    ACTION_DUPLICATE: gettext_lazy("Possible duplicate"),
}
CHOICE_MERGE = "merge"
CHOICE_SKIP = "skip"


class ImportFileError(Exception):
    """The upload cannot be read as a customer file; the message is shown on the form."""


class ImportBlocked(Exception):
    """The plan still has errors (or the data changed under it): nothing was written."""


def _chunks(items: list, size: int = BATCH_SIZE) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
