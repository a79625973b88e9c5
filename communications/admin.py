from django.contrib import admin

from communications.models import Communication, FollowUp


@admin.register(Communication)
class CommunicationAdmin(admin.ModelAdmin):
    """Read-mostly view for administrators; writes go through the staff UI and the API (services)."""

    list_display = ("id", "customer", "communication_type", "direction", "subject", "sentiment", "communication_date")
    list_filter = ("communication_type", "direction", "sentiment", "importance")
    search_fields = ("subject",)
    raw_id_fields = ("customer", "contact", "staff")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(FollowUp)
class FollowUpAdmin(admin.ModelAdmin):
    list_display = ("id", "customer", "staff", "action", "due_date", "status", "reminded_at")
    list_filter = ("status",)
    raw_id_fields = ("communication", "customer", "staff")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
