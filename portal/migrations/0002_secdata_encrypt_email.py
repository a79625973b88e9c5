# Portal e-mail addresses encrypted at rest; sign-in and uniqueness move to a blind index (docs/security.md).

import django.core.validators
from django.db import migrations

import crm_project.crypto
from crm_project import crypto


def encrypt_rows(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT id, email FROM portal_accounts")
        for pk, email in cursor.fetchall():
            plain = crypto.decrypt(email) or ""
            cursor.execute(
                "UPDATE portal_accounts SET email = %s, email_bidx = %s WHERE id = %s",
                [crypto.encrypt(plain) if plain else "", crypto.blind_index("email", plain) or f"-{pk}", pk],
            )


def decrypt_rows(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT id, email FROM portal_accounts")
        for pk, email in cursor.fetchall():
            cursor.execute("UPDATE portal_accounts SET email = %s WHERE id = %s", [(crypto.decrypt(email) or "")[:254], pk])


class Migration(migrations.Migration):

    dependencies = [
        ('portal', '0001_initial'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='portalaccount',
            options={'ordering': ['id'], 'verbose_name': 'portal account', 'verbose_name_plural': 'portal accounts'},
        ),
        migrations.AddField(
            model_name='portalaccount',
            name='email_bidx',
            field=crm_project.crypto.BlindIndexField(blank=True, default='', editable=False, kind='email', max_length=64, source='email'),
        ),
        migrations.AlterField(
            model_name='portalaccount',
            name='email',
            field=crm_project.crypto.EncryptedCharField(max_length=254, validators=[django.core.validators.EmailValidator()], verbose_name='e-mail'),
        ),
        migrations.RunPython(encrypt_rows, decrypt_rows),
        migrations.AlterField(
            model_name='portalaccount',
            name='email_bidx',
            field=crm_project.crypto.BlindIndexField(blank=True, default='', editable=False, kind='email', max_length=64, source='email', unique=True),
        ),
    ]
