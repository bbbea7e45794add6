/*
 * i18n.c - the console's words in English and Dutch (the staff user's
 * language, `user add --language`).  One sorted table, searched by key;
 * tests/unit/test_web.c checks that it is sorted and that every key has
 * both languages.
 */
#include <stdlib.h>
#include <string.h>

#include "web.h"

struct word {
    const char *key, *en, *nl;
};

/* sorted by key (strcmp) */
static const struct word words[] = {
    {"", "", ""},
    {"account", "Account", "Klant"},
    {"action", "Action", "Actie"},
    {"actor", "By", "Door"},
    {"archived", "archived", "gearchiveerd"},
    {"at", "When", "Wanneer"},
    {"audit", "Audit trail", "Audittrail"},
    {"bulk", "Bulk requests", "Bulkverzoeken"},
    {"bulk.and", "and", "en"},
    {"bulk.cancel", "Cancel", "Annuleren"},
    {"bulk.items", "Items", "Items"},
    {"bulk.message", "Message (optional)", "Bericht (optioneel)"},
    {"bulk.more", "more, the same text to each recipient",
     "meer, dezelfde tekst aan elke ontvanger"},
    {"bulk.nobody", "Nobody: no contact of the account has notify on",
     "Niemand: geen contactpersoon van de klant heeft meldingen aan"},
    {"bulk.preview", "Preview", "Voorbeeld"},
    {"bulk.send", "Send", "Versturen"},
    {"bulk.title", "Send a bulk request?", "Bulkverzoek versturen?"},
    {"bulk.to", "Recipients", "Ontvangers"},
    {"cal.default", "default", "standaard"},
    {"cal.digest", "Daily digest", "Dagelijkse samenvatting"},
    {"cal.holidays", "Holidays", "Feestdagen"},
    {"cal.manager", "Manager (escalations)", "Manager (escalaties)"},
    {"cal.timezone", "Time zone", "Tijdzone"},
    {"cal.window", "Send window", "Verzendvenster"},
    {"calendar", "Calendar", "Agenda"},
    {"contacts", "Contacts", "Contactpersonen"},
    {"count", "Count", "Aantal"},
    {"created", "Created", "Aangemaakt"},
    {"dash.after", "Completed after reminder", "Afgerond na herinnering"},
    {"dash.after_n", "Reminders sent", "Herinneringen verstuurd"},
    {"dash.after_none", "none (the first email)", "geen (de eerste e-mail)"},
    {"dash.chart", "Emails sent and items completed, last 30 days",
     "E-mails verstuurd en items afgerond, laatste 30 dagen"},
    {"dash.completed", "completed", "afgerond"},
    {"dash.due_today", "reminders due today", "herinneringen vandaag"},
    {"dash.due_week", "reminders in the next 7 days", "herinneringen komende 7 dagen"},
    {"dash.failed", "failed deliveries", "mislukte bezorgingen"},
    {"dash.pending", "Pending items by type", "Openstaande items per soort"},
    {"dash.queued", "queued emails", "e-mails in de wachtrij"},
    {"dash.sent", "sent", "verstuurd"},
    {"detail", "Detail", "Details"},
    {"email", "Email", "E-mail"},
    {"emails", "Emails", "E-mails"},
    {"error", "Error", "Fout"},
    {"every_days", "Days until next reminder", "Dagen tot volgende herinnering"},
    {"failed", "failed", "mislukt"},
    {"item", "Item", "Item"},
    {"kind", "Kind", "Soort"},
    {"language", "Language", "Taal"},
    {"login", "Log in", "Inloggen"},
    {"logout", "Log out", "Uitloggen"},
    {"name", "Name", "Naam"},
    {"nav.accounts", "Accounts", "Klanten"},
    {"nav.dashboard", "Dashboard", "Overzicht"},
    {"nav.outbox", "Outbox", "Postvak uit"},
    {"nav.upcoming", "Upcoming", "Gepland"},
    {"next", "Next", "Volgende"},
    {"next.mail", "Next reminder, as it will go out",
     "Volgende herinnering, zoals ze verstuurd wordt"},
    {"next.none", "No automatic email to come.", "Geen automatische e-mail gepland."},
    {"none", "none", "geen"},
    {"notified", "Notified", "Op de hoogte"},
    {"notify", "Notify", "Melden"},
    {"off", "off", "uit"},
    {"on", "on", "aan"},
    {"outbox.failed", "Failed", "Mislukt"},
    {"outbox.queued", "Queued", "In de wachtrij"},
    {"overdue", "due now", "nu"},
    {"password", "Password", "Wachtwoord"},
    {"previous", "Previous", "Vorige"},
    {"queued", "queued", "in de wachtrij"},
    {"recipient", "Recipient", "Ontvanger"},
    {"rem.off", "Reminders off", "Herinneringen uit"},
    {"rem.on", "Reminders on", "Herinneringen aan"},
    {"rem.sent", "Reminders sent", "Herinneringen verstuurd"},
    {"reminder", "reminder", "herinnering"},
    {"reminders", "Reminders", "Herinneringen"},
    {"reply", "Reply", "Antwoord"},
    {"resend", "Resend", "Opnieuw versturen"},
    {"retry", "Retry", "Opnieuw proberen"},
    {"retry_all", "Retry all failed", "Alle mislukte opnieuw"},
    {"save", "Save", "Opslaan"},
    {"search", "Search", "Zoeken"},
    {"sent", "sent", "verstuurd"},
    {"state", "State", "Status"},
    {"subject", "Subject", "Onderwerp"},
    {"suppressed", "Suppressed", "Geblokkeerd"},
    {"suppressed.since", "since", "sinds"},
    {"template", "Template", "Sjabloon"},
    {"title", "Title", "Titel"},
    {"todo", "To-do list", "Takenlijst"},
    {"total", "Total", "Totaal"},
    {"type", "Type", "Soort"},
    {"upcoming.none", "No automatic emails in the next 14 days.",
     "Geen automatische e-mails in de komende 14 dagen."},
    {"upcoming.note",
     "The automatic reminders of the next 14 days, as they will go out (send windows, "
     "holidays and holds applied; the same list as tickler preview).",
     "De automatische herinneringen van de komende 14 dagen, zoals ze verstuurd worden "
     "(verzendvensters, feestdagen en pauzes toegepast; dezelfde lijst als tickler preview)."},
    {"username", "User name", "Gebruikersnaam"},
};

static int cmp(const void *k, const void *w)
{
    return strcmp(k, ((const struct word *)w)->key);
}

const char *tk_web_t(const char *lang, const char *key)
{
    const struct word *w;
    if (!key)
        return "";
    w = bsearch(key, words, sizeof words / sizeof words[0], sizeof words[0], cmp);
    if (!w)
        return key;
    return lang && strcmp(lang, "nl") == 0 ? w->nl : w->en;
}

size_t tk_web_words(const char **key, size_t n)
{
    if (key && n < sizeof words / sizeof words[0])
        *key = words[n].key;
    return sizeof words / sizeof words[0];
}
