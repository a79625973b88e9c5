app_name = "health_api"
urlpatterns: list = []
