from django.db import migrations

from gridgov.core.db import append_only_install, append_only_remove

# The special groups most districts keep; a deployment adds its own in the admin.
GROUPS = [
    ("elderly_alone", "独居老人", "Elderly living alone", False, [
        {"key": "care_level", "label_zh": "照护等级", "label_en": "Care level", "type": "choice",
         "choices": ["自理", "半失能", "失能"], "required": False},
        {"key": "contact", "label_zh": "紧急联系人", "label_en": "Emergency contact", "type": "text", "required": False},
    ]),
    ("disabled", "残疾人", "Disabled person", False, [
        {"key": "category", "label_zh": "残疾类别", "label_en": "Category", "type": "choice",
         "choices": ["视力", "听力", "言语", "肢体", "智力", "精神", "多重"], "required": False},
        {"key": "grade", "label_zh": "残疾等级", "label_en": "Grade", "type": "choice",
         "choices": ["1", "2", "3", "4"], "required": False},
    ]),
    ("low_income", "低保对象", "Minimum living allowance (低保)", False, [
        {"key": "allowance", "label_zh": "月保障金（元）", "label_en": "Monthly allowance (yuan)", "type": "int",
         "required": False},
    ]),
    ("minor_in_care", "困境儿童", "Minor in care", True, [
        {"key": "situation", "label_zh": "困境类型", "label_en": "Situation", "type": "choice",
         "choices": ["孤儿", "事实无人抚养", "留守", "其他"], "required": False},
    ]),
    ("key_person", "重点人员", "Key person", True, [
        {"key": "category", "label_zh": "类别", "label_en": "Category", "type": "text", "required": False},
    ]),
    ("veteran", "退役军人", "Veteran", False, []),
    ("elderly_80", "80岁以上老人", "Aged 80 and over", False, []),
]


def install(apps, schema_editor):
    append_only_install(schema_editor.connection, ("people_accesslog",))
    SpecialGroup = apps.get_model("people", "SpecialGroup")
    for order, (key, zh, en, sensitive, fields) in enumerate(GROUPS):
        SpecialGroup.objects.get_or_create(key=key, defaults={"name_zh": zh, "name_en": en, "sensitive": sensitive,
                                                              "fields": fields, "order": order})


def uninstall(apps, schema_editor):
    append_only_remove(schema_editor.connection, ("people_accesslog",))


class Migration(migrations.Migration):
    dependencies = [("people", "0001_initial")]
    operations = [migrations.RunPython(install, uninstall)]
