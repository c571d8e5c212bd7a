"""A small bilingual lexicon of customer-support vocabulary, for cross-lingual retrieval.

Visitors often ask in a language the content is not written in (a Danish question over
English pages). Each visitor word whose stem is in the lexicon adds its English terms to
the query, so BM25 over the English sub-fields still finds the page — offline, on the CPU,
with no model. Keys are lower-case stems matched as word prefixes (at least four letters,
or the whole word for shorter keys); values are English words.
"""

from __future__ import annotations

from collections.abc import Iterable

_MIN_PREFIX = 4


def _table(rows: str) -> dict[str, tuple[str, ...]]:
    table: dict[str, tuple[str, ...]] = {}
    for row in rows.strip().splitlines():
        stem, _, english = row.partition(":")
        table[stem.strip()] = tuple(english.split())
    return table


LEXICON: dict[str, dict[str, tuple[str, ...]]] = {
    "da": _table(
        """
        fil: file
        filer: files file
        læs: read
        læse: read
        skriv: write
        liste: list
        sorter: sort
        tilfældig: random
        tal: number numbers
        dato: date
        mappe: directory folder
        kopier: copy
        komprimer: compress
        midlertidig: temporary
        database: database
        tekst: text string
        tråd: thread
        test: test tests
        adgangskode: password
        kodeord: password
        password: password
        nulstil: reset
        gendan: restore reset
        glemt: forgot forgotten
        konto: account
        log: login
        logge: login
        login: login
        bruger: user account
        brugernavn: username
        ordre: order
        bestil: order
        levering: delivery shipping
        lever: delivery deliver shipping
        forsend: shipping delivery
        fragt: shipping freight
        pakke: package parcel
        spor: track tracking
        returner: return
        retur: return returns
        refusion: refund
        tilbagebetal: refund
        penge: money refund
        betal: payment pay
        faktura: invoice
        kvittering: receipt
        pris: price cost
        koster: cost price
        gratis: free
        rabat: discount
        gavekort: gift card
        abonnement: subscription
        opsig: cancel
        annuller: cancel
        afbestil: cancel
        ændre: change
        skift: change
        opdater: update
        slet: delete
        adresse: address
        mail: email
        e-mail: email
        telefon: phone
        åbningstid: opening hours open
        åben: open
        lukket: closed
        kontakt: contact
        kundeservice: customer service support
        garanti: warranty guarantee
        reklamation: complaint warranty
        produkt: product
        vare: item product
        varer: items products
        størrelse: size
        bytte: exchange
        ombyt: exchange
        dage: days
        hverdage: business days
        uge: week
        måned: month
        time: hour hours
        timer: hours
        gyldig: valid
        udløb: expire expires
        link: link
        indstilling: settings
        sikkerhed: security
        installer: install
        download: download
        hent: download
        fejl: error
        problem: problem issue
        virker: work works
        hjælp: help support
        land: country
        udland: international abroad
        moms: vat tax
        lager: stock
        tilgængelig: available
        kort: card
        kreditkort: credit card
        lang: long
        hurtig: fast quick
        """
    ),
    "nl": _table(
        """
        bestand: file
        bestanden: files file
        lees: read
        lezen: read
        schrijf: write
        lijst: list
        sorteer: sort
        willekeurig: random
        getal: number numbers
        getallen: numbers number
        datum: date
        map: directory folder
        kopieer: copy
        comprimeer: compress
        tijdelijk: temporary
        tekst: text string
        wachtwoord: password
        herstel: reset restore
        resetten: reset
        reset: reset
        vergeten: forgot forgotten
        account: account
        inlog: login
        inloggen: login
        gebruiker: user
        gebruikersnaam: username
        bestelling: order
        bestel: order
        levering: delivery shipping
        lever: deliver delivery
        bezorg: delivery shipping
        verzend: shipping
        verzending: shipping
        pakket: package parcel
        volg: track tracking
        retour: return returns
        retourneren: return
        terugsturen: return
        terugbetal: refund
        terugbetaling: refund
        geld: money refund
        betal: payment pay
        factuur: invoice
        bon: receipt
        prijs: price cost
        kost: cost price
        gratis: free
        korting: discount
        cadeaubon: gift card
        cadeaukaart: gift card
        abonnement: subscription
        opzeg: cancel
        annuleer: cancel
        annuleren: cancel
        wijzig: change
        verander: change
        bijwerk: update
        verwijder: delete
        adres: address
        mail: email
        e-mail: email
        telefoon: phone
        openingstijd: opening hours open
        open: open
        gesloten: closed
        klantenservice: customer service support
        garantie: warranty guarantee
        klacht: complaint
        product: product
        artikel: item product
        maat: size
        ruil: exchange
        dagen: days
        werkdag: business days
        week: week
        maand: month
        uur: hour hours
        geldig: valid
        verloop: expire expires
        link: link
        instelling: settings
        beveiliging: security
        installeer: install
        download: download
        fout: error
        probleem: problem issue
        werkt: works
        hulp: help support
        land: country
        buitenland: international abroad
        btw: vat tax
        voorraad: stock
        beschikbaar: available
        kaart: card
        creditcard: credit card
        lang: long
        snel: fast quick
        """
    ),
    "de": _table(
        """
        datei: file
        dateien: files file
        lese: read
        lesen: read
        schreib: write
        liste: list
        sortier: sort
        zufäll: random
        zahl: number numbers
        datum: date
        verzeichnis: directory folder
        ordner: directory folder
        kopier: copy
        komprimier: compress
        temporär: temporary
        text: text string
        passwort: password
        kennwort: password
        zurücksetz: reset
        vergessen: forgot
        konto: account
        anmeld: login
        benutzer: user
        bestellung: order
        bestell: order
        lieferung: delivery shipping
        liefer: delivery
        versand: shipping
        paket: package parcel
        verfolg: track tracking
        rücksend: return
        zurückgeben: return
        rückgabe: return returns
        erstattung: refund
        rückerstattung: refund
        geld: money refund
        zahl: payment pay
        bezahl: payment pay
        rechnung: invoice
        quittung: receipt
        preis: price cost
        kostet: cost price
        kosten: cost price
        kostenlos: free
        rabatt: discount
        gutschein: gift card voucher
        abonnement: subscription
        kündig: cancel
        stornier: cancel
        ändern: change
        aktualisier: update
        lösch: delete
        adresse: address
        e-mail: email
        telefon: phone
        öffnungszeit: opening hours open
        geöffnet: open
        geschlossen: closed
        kontakt: contact
        kundenservice: customer service support
        kundendienst: customer service support
        garantie: warranty guarantee
        gewährleistung: warranty
        produkt: product
        artikel: item product
        größe: size
        umtausch: exchange
        tage: days
        werktag: business days
        woche: week
        monat: month
        stunde: hour hours
        gültig: valid
        abgelaufen: expired
        einstellung: settings
        sicherheit: security
        installier: install
        herunterlad: download
        fehler: error
        problem: problem issue
        funktioniert: works
        hilfe: help support
        ausland: international abroad
        mehrwertsteuer: vat tax
        verfügbar: available
        karte: card
        kreditkarte: credit card
        lange: long
        schnell: fast quick
        """
    ),
    "fr": _table(
        """
        mot de passe: password
        passe: password
        mot: password
        réinitialis: reset
        oublié: forgot
        compte: account
        connexion: login
        connecter: login
        utilisateur: user
        commande: order
        commander: order
        livraison: delivery shipping
        livr: delivery deliver
        expédition: shipping
        colis: package parcel
        suivi: track tracking
        retour: return returns
        retourner: return
        renvoyer: return
        rembourse: refund
        remboursement: refund
        argent: money refund
        paiement: payment pay
        payer: pay payment
        facture: invoice
        reçu: receipt
        prix: price cost
        coût: cost price
        coûte: cost price
        gratuit: free
        réduction: discount
        remise: discount
        carte cadeau: gift card
        abonnement: subscription
        annuler: cancel
        résilier: cancel
        modifier: change
        changer: change
        supprimer: delete
        adresse: address
        e-mail: email
        courriel: email
        téléphone: phone
        horaire: opening hours
        ouvert: open
        fermé: closed
        contact: contact
        service client: customer service support
        garantie: warranty guarantee
        produit: product
        article: item product
        taille: size
        échange: exchange
        jours: days
        ouvrable: business days
        semaine: week
        mois: month
        heure: hour hours
        valable: valid
        valide: valid
        expir: expire
        lien: link
        paramètre: settings
        sécurité: security
        installer: install
        télécharg: download
        erreur: error
        problème: problem issue
        fonctionne: works
        aide: help support
        pays: country
        étranger: international abroad
        tva: vat tax
        stock: stock
        disponible: available
        carte: card
        carte de crédit: credit card
        rapide: fast quick
        """
    ),
    "es": _table(
        """
        contraseña: password
        restable: reset
        olvid: forgot
        cuenta: account
        iniciar sesión: login
        sesión: login
        usuario: user
        pedido: order
        envío: shipping delivery
        envio: shipping delivery
        entrega: delivery
        paquete: package parcel
        seguimiento: track tracking
        devolución: return returns refund
        devolver: return
        reembols: refund
        dinero: money refund
        pago: payment pay
        pagar: pay payment
        factura: invoice
        recibo: receipt
        precio: price cost
        cuesta: cost price
        gratis: free
        descuento: discount
        tarjeta regalo: gift card
        suscripción: subscription
        cancelar: cancel
        cambiar: change
        actualizar: update
        eliminar: delete
        borrar: delete
        dirección: address
        correo: email
        teléfono: phone
        horario: opening hours
        abierto: open
        cerrado: closed
        contacto: contact
        atención al cliente: customer service support
        garantía: warranty guarantee
        producto: product
        artículo: item product
        talla: size
        cambio: exchange
        días: days
        hábiles: business days
        semana: week
        mes: month
        hora: hour hours
        válido: valid
        caduc: expire
        enlace: link
        configuración: settings
        seguridad: security
        instalar: install
        descargar: download
        error: error
        problema: problem issue
        funciona: works
        ayuda: help support
        país: country
        extranjero: international abroad
        iva: vat tax
        disponible: available
        tarjeta: card
        tarjeta de crédito: credit card
        rápido: fast quick
        """
    ),
}

# Norwegian and Swedish share much support vocabulary with Danish.
LEXICON["no"] = LEXICON["da"]
LEXICON["sv"] = LEXICON["da"]


def translate_token(token: str, language: str) -> tuple[str, ...]:
    """English terms for one visitor word: the entry of the longest lexicon stem the word starts with."""
    table = LEXICON.get(language)
    if not table:
        return ()
    if token in table:
        return table[token]
    best: tuple[str, ...] = ()
    best_length = 0
    for stem, english in table.items():
        if " " in stem or len(stem) < _MIN_PREFIX:
            continue
        if token.startswith(stem) and len(stem) > best_length:
            best, best_length = english, len(stem)
    return best


def translate_phrases(text: str, language: str) -> tuple[str, ...]:
    """English terms of multi-word lexicon entries found in ``text`` ('mot de passe' → password)."""
    table = LEXICON.get(language)
    if not table:
        return ()
    lowered = f" {text.lower()} "
    found: list[str] = []
    for stem, english in table.items():
        if " " in stem and f" {stem} " in lowered:
            found.extend(english)
    return tuple(found)


def english_terms(tokens: Iterable[str], language: str) -> dict[str, tuple[str, ...]]:
    """For each visitor word that the lexicon knows, its English terms."""
    return {token: terms for token in tokens if (terms := translate_token(token, language))}
