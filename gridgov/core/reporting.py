"""Error reports (500 e-mails, the debug page) without personal data.

Forms and API bodies here carry ID numbers, phones, names and addresses, and the local variables of a
failing import hold whole rows: outside DEBUG, every POST value and every frame variable is replaced by
the cleansed placeholder, not only those Django's default filter guesses are secret."""

from __future__ import annotations

from django.views.debug import SafeExceptionReporterFilter


class PersonalDataReporterFilter(SafeExceptionReporterFilter):
    def get_post_parameters(self, request):
        if request is None:
            return {}
        if not self.is_active(request):
            return request.POST
        cleansed = request.POST.copy()
        for key in cleansed:
            cleansed[key] = self.cleansed_substitute
        return cleansed

    def get_traceback_frame_variables(self, request, tb_frame):
        if not self.is_active(request):
            return super().get_traceback_frame_variables(request, tb_frame)
        return [(name, self.cleansed_substitute) for name in tb_frame.f_locals]
