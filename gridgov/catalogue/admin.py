from django.contrib import admin

from gridgov.catalogue.models import Catalogue, Category, Matter, MatterStage


class ReadOnly:
    """Catalogues change through `catalogue_load` (file or command), which validates codes, conditions and
    stages together; the admin shows them."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class StageInline(ReadOnly, admin.TabularInline):
    model = MatterStage
    extra = 0
    fields = ["order", "name_zh", "name_en", "amount", "unit", "closing_condition"]


@admin.register(Catalogue)
class CatalogueAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["key", "name_zh", "name_en", "version", "updated_at"]


@admin.register(Category)
class CategoryAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["code", "name_zh", "name_en", "kind", "catalogue"]
    list_filter = ["catalogue", "kind"]


@admin.register(Matter)
class MatterAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["code", "name_zh", "category", "report_level", "duty_tier", "department", "handling_mode", "active"]
    list_filter = ["catalogue", "category__kind", "report_level", "duty_tier", "handling_mode", "active"]
    search_fields = ["code", "name_zh", "name_en", "department"]
    inlines = [StageInline]
