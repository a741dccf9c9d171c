"""REST API of base data, /api/people/...: records (`records`), special groups, party members and
volunteers (`groups`), the access log (`access_log`) and list exports (`exports`); what the views share
in `base`. Serializers live in `gridgov.people.serializers`, writes in `gridgov.people.services`."""
