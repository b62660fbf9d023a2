from django.db import connection
from django.test import TestCase

from notes.models import Note


class NoteTests(TestCase):
    def test_saved_in_the_test_database(self) -> None:
        Note.objects.create(text="through the proxy")
        assert Note.objects.get().text == "through the proxy"
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_database()")
            assert cursor.fetchone() == ("test_postgres",)
