# Which catalogue a scheme uses is the catalogue app's (catalogue.SchemeCatalogue): copy each policy's link
# there, then drop CasePolicy.catalogue. Reversed, the column comes back and the links are copied onto the
# policies (a scheme with a link and no policy gets a policy of defaults holding it).

import django.db.models.deletion
from django.db import migrations, models


def links_to_the_catalogue(apps, schema_editor):
    CasePolicy = apps.get_model("cases", "CasePolicy")
    SchemeCatalogue = apps.get_model("catalogue", "SchemeCatalogue")
    SchemeCatalogue.objects.bulk_create(
        [SchemeCatalogue(scheme_id=scheme_id, catalogue_id=catalogue_id)
         for scheme_id, catalogue_id in CasePolicy.objects.filter(catalogue__isnull=False)
         .values_list("scheme_id", "catalogue_id")],
        ignore_conflicts=True)


def links_back_to_the_policies(apps, schema_editor):
    CasePolicy = apps.get_model("cases", "CasePolicy")
    SchemeCatalogue = apps.get_model("catalogue", "SchemeCatalogue")
    for scheme_id, catalogue_id in SchemeCatalogue.objects.values_list("scheme_id", "catalogue_id"):
        CasePolicy.objects.update_or_create(scheme_id=scheme_id, defaults={"catalogue_id": catalogue_id})
    SchemeCatalogue.objects.all().delete()


class Migration(migrations.Migration):

    dependencies = [
        ("cases", "0008_names_explain_themselves"),
        ("catalogue", "0005_scheme_catalogue"),
    ]

    operations = [
        migrations.RunPython(links_to_the_catalogue, links_back_to_the_policies),
        migrations.RemoveField(model_name="casepolicy", name="catalogue"),
    ]
