from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from gridgov.workdays import services
from gridgov.workdays.calendar import periods_clean
from gridgov.workdays.models import CalendarDay, WorkSchedule


@admin.register(CalendarDay)
class CalendarDayAdmin(admin.ModelAdmin):
    list_display = ["date", "is_workday", "name", "updated_at", "updated_by"]
    list_filter = ["is_workday"]
    date_hierarchy = "date"
    fields = ["date", "is_workday", "name"]

    def save_model(self, request, obj, form, change):
        saved = services.calendar_day_set(date=obj.date, is_workday=obj.is_workday, name=obj.name,
                                          actor=request.user)
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        services.calendar_day_clear(day=obj, actor=request.user)


class WorkScheduleForm(forms.ModelForm):
    class Meta:
        model = WorkSchedule
        fields = ["scheme", "periods"]

    def clean_periods(self):
        try:
            return periods_clean(self.cleaned_data["periods"])
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["periods"]) from None


@admin.register(WorkSchedule)
class WorkScheduleAdmin(admin.ModelAdmin):
    form = WorkScheduleForm
    list_display = ["__str__", "updated_at"]

    def save_model(self, request, obj, form, change):
        saved = services.schedule_set(periods=obj.periods, scheme=obj.scheme, actor=request.user)
        obj.pk = saved.pk
