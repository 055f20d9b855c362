"""One row of every entity (two for the antenne-scoped ones: ML-ANT-NORD and ML-ANT-SUD), so each
grid's list, detail and edit pages have something to show and scoping has something to hide."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from backoffice import models as m
from backoffice.models.enums import (AllocationStatut, CategorieRessource, DeclarationType, HabilitationAfasRole,
                                     LotStatut, MailStatut, ModeLieu, MotifAP, PaiementStatut, ReversementStatut, Role, RoleEtablissement,
                                     TypeStructure, TypeItemAfas, PartAfas)
from backoffice.passwords import hash_password
from tests import factories as f

_seq = itertools.count(1)


@dataclass
class Sample:
    """ids[endpoint] = (id visible to conseiller (NORD), id of another antenne (SUD) or None)."""

    ids: dict = field(default_factory=dict)
    texts: dict = field(default_factory=dict)  # endpoint -> (text of the NORD row, text of the SUD row)

    def nord(self, endpoint):
        return self.ids[endpoint][0]

    def sud(self, endpoint):
        return self.ids[endpoint][1]


def _add(session, obj):
    session.add(obj)
    session.flush()
    return obj


def _antenne_rows(session, ref, antenne, tag):
    """Every antenne-scoped entity for one antenne."""
    n = next(_seq)
    b, cb, i, c = f.make_parcours_cej(session, antenne, ref.dispositifs, nom=f"{tag}Dupont{n}",
                                      nom_recherche=f"{tag.upper()}DUPONT{n} LEA")
    a = f.make_allocation(session, i, c, mois=date(2025, 4, 1), montant=Decimal("1234.56"),
                          montant_forfaitaire=Decimal("561.68"))
    r = _add(session, m.Ressource(allocation_id=a.id, type_ressource="Salaire", categorie=CategorieRessource.DEGRESSIVE,
                                  montant=Decimal("600.00"), mois_reference=date(2025, 3, 1)))
    hd = _add(session, m.DemandeHorsDelai(inscription_id=i.id, antenne_id=antenne.id, mois=date(2025, 1, 1),
                                          montant_demande=Decimal("561.68"), motif=f"Oubli {tag}",
                                          demandeur_id=ref.comptes["conseiller"].id))
    lot = _add(session, m.LotPaiement(reference=f"LOT-{tag}-{n}", dispositif_id=ref.dispositifs["CEJ"].id,
                                      date_execution=date(2025, 5, 13 if tag == "Nord" else 14), statut=LotStatut.PREPAREE, nb_paiements=1,
                                      montant_total=Decimal("1234.56")))
    a2 = f.make_allocation(session, i, c, mois=date(2025, 5, 1), statut=AllocationStatut.TRANSMISE)
    from backoffice.models.enums import EcheanceStatut
    e = f.make_echeance_allocation(session, a2, cb, montant=Decimal("561.68"), statut=EcheanceStatut.EN_LOT)
    p = _add(session, m.Paiement(lot_id=lot.id, echeance_id=e.id, allocation_id=a2.id, beneficiaire_id=b.id,
                                 antenne_id=antenne.id,
                                 end_to_end_id=f"CEJ-{tag}-{n}", montant=Decimal("561.68"), titulaire=cb.titulaire,
                                 iban=cb.iban, bic=cb.bic, libelle=f"ALLOC CEJ 05/2025 {tag}",
                                 statut=PaiementStatut.EN_ATTENTE))
    rv = _add(session, m.Reversement(numero=f"OR-{tag}-{n}", beneficiaire_id=b.id, antenne_id=antenne.id,
                                     montant=Decimal("246.04"), statut=ReversementStatut.EN_RECOUVREMENT,
                                     date_notification=date(2025, 6, 2), date_echeance=date(2025, 7, 2)))
    rb = _add(session, m.Remboursement(reversement_id=rv.id, date_reception=date(2025, 6, 20),
                                       montant=Decimal("10.00"), mode="virement", reference=f"VIR-{tag}-{n}"))
    return {
        "beneficiaire": (b.id, b.identifiant_imilo), "compte_bancaire": (cb.id, b.identifiant_imilo),
        "inscription": (i.id, i.numero), "cerfa": (c.id, c.numero), "allocation": (a.id, b.identifiant_imilo),
        "ressource": (r.id, f"Allocation {a.id} "), "demande_hors_delai": (hd.id, i.numero),
        "lot_paiement": (lot.id, lot.reference), "paiement": (p.id, p.end_to_end_id),
        "reversement": (rv.id, rv.numero), "remboursement": (rb.id, rv.numero),
        "echeance": (e.id, e.titulaire),
    }


def make_everything(session, ref) -> Sample:
    sample = Sample()
    nord = _antenne_rows(session, ref, ref.nord, "Nord")
    sud = _antenne_rows(session, ref, ref.sud, "Sud")
    for endpoint in nord:
        sample.ids[endpoint] = (nord[endpoint][0], sud[endpoint][0])
        sample.texts[endpoint] = (nord[endpoint][1], sud[endpoint][1])

    n = next(_seq)
    partenaire = _add(session, m.Structure(code=f"AFAS-{n}", nom="Espace de rencontre Lille",
                                           type=TypeStructure.PARTENAIRE_AFAS))
    nacre = _add(session, m.Structure(code=f"NACRE-{n}", nom="Initiative Lille", type=TypeStructure.OPERATEUR_NACRE))
    employeur = _add(session, m.Structure(code=f"EMP-{n}", nom="Centre social Fives", type=TypeStructure.EMPLOYEUR))
    accueil = _add(session, m.Structure(code=f"ASC-{n}", nom="Unis-Cité Lille", type=TypeStructure.ORGANISME_ACCUEIL))
    decl = _add(session, m.DeclarationPartenaire(partenaire_id=partenaire.id, exercice=2025,
                                                 type=DeclarationType.PREVISIONNELLE, budget=Decimal("12000.00")))
    lieu = _add(session, m.LieuAccueil(partenaire_id=partenaire.id, nom="Lieu Wazemmes", mode=ModeLieu.MONO_LIEU,
                                       commune="Lille"))
    ligne = _add(session, m.LigneActivite(declaration_id=decl.id, lieu_id=lieu.id, semestre=1,
                                          heures_rencontres=Decimal("120.50")))
    anomalie = _add(session, m.Anomalie(declaration_id=decl.id, code="A01", libelle="Heures en baisse"))
    item = _add(session, m.ItemAnnuelAfas(code=f"ECHANTILLON-{n}", libelle="Donnée annuelle échantillon",
                                          type=TypeItemAfas.ENTIER, part=PartAfas.ACTIVITE, minimum=Decimal("0"),
                                          maximum=Decimal("10")))
    er_user = _add(session, m.Compte(login=f"er-echantillon{n}", email=f"er{n}@er.example.fr", nom="Afas",
                                     prenom="Eva", role=Role.PARTENAIRE, password_hash="x", must_change_password=False))
    habilitation = _add(session, m.HabilitationAfas(compte_id=er_user.id, partenaire_id=partenaire.id,
                                                    role=HabilitationAfasRole.APPROBATEUR))
    etab = _add(session, m.Etablissement(siret="73282932000074", raison_sociale="Boulangerie Lilloise",
                                         libelle_voie="12 rue Nationale", code_postal="59000", ville="Lille",
                                         email="contact@boulangerie.example.fr", effectif=12,
                                         iban="FR1420041010050500013M02606"))
    auto = _add(session, m.AutorisationAP(numero=f"DAP-{n}", etablissement_id=etab.id, motif=MotifAP.CONJONCTURE,
                                          date_debut=date(2025, 1, 1), date_fin=date(2025, 3, 31), nb_salaries=5,
                                          heures_prevues=Decimal("300"), deposee_at=datetime(2024, 12, 15, 9, 0)))
    salarie = _add(session, m.Salarie(etablissement_id=etab.id, nom="Lefebvre", prenom="Paul",
                                      taux_horaire_brut=Decimal("15.00")))
    di = _add(session, m.DemandeIndemnisation(autorisation_id=auto.id, annee=2025, mois=2,
                                              montant_allocation=Decimal("296.10")))
    ligne_di = _add(session, m.LigneDI(demande_id=di.id, salarie_id=salarie.id, heures_chomees=Decimal("35"),
                                       indemnite=Decimal("315.00"), allocation=Decimal("296.10")))
    conv = _add(session, m.ConventionNacre(numero=f"NACRE-{n}", operateur_id=nacre.id,
                                           subvention_annuelle=Decimal("120000.00"), date_debut=date(2025, 1, 1),
                                           date_fin=date(2027, 12, 31)))
    poste = _add(session, m.PosteAdulteRelais(numero_convention=f"AR-{n}", employeur_id=employeur.id,
                                              salarie_nom="Benali", salarie_prenom="Nadia",
                                              salarie_date_naissance=date(1985, 2, 3), date_debut=date(2024, 9, 1),
                                              date_fin=date(2027, 8, 31), aide_annuelle=Decimal("22810.61"),
                                              aide_mensuelle=Decimal("1900.88")))
    # issue 16: a NACRE statement and expertise, an adultes-relais quarterly declaration
    etat_nacre = _add(session, m.EtatActiviteNacre(convention_id=conv.id, mois=date(2025, 3, 1), nb_phase_1=4))
    expertise = _add(session, m.ExpertiseNacre(convention_id=conv.id, prestataire="Cabinet Echantillon",
                                               objet="Etude de marche", montant_contrat=Decimal("900.00"),
                                               montant_facture=Decimal("850.00"), date_facture=date(2025, 3, 3)))
    decl_ar = _add(session, m.DeclarationAdulteRelais(poste_id=poste.id, annee=2025, trimestre=1))
    sc = _add(session, m.ContratServiceCivique(numero=f"SC-{n}", organisme_id=accueil.id, volontaire_nom="Roux",
                                               volontaire_prenom="Emma", volontaire_date_naissance=date(2004, 6, 1),
                                               date_debut=date(2025, 2, 1), date_fin=date(2025, 9, 30),
                                               indemnite_mensuelle=Decimal("504.98"),
                                               prestation_accueil=Decimal("114.85")))
    # issue 16: service civique (R55), ESAT and EA (R53, R54)
    agrement_sc = _add(session, m.AgrementServiceCivique(organisme_id=accueil.id, numero=f"AG-{n}", associatif=True,
                                                         iban="FR1420041010050500013M02606"))
    mois_sc = _add(session, m.MoisServiceCivique(contrat_id=sc.id, periode=date(2025, 3, 1), fraction=Decimal("1"),
                                                 indemnite=Decimal("504.98"), majoration=Decimal("0.00"),
                                                 prestation_due=Decimal("114.85"), subvention=Decimal("100.00"),
                                                 bareme_du=date(2024, 1, 1)))
    esat = _add(session, m.Structure(code=f"ESAT-{n}", nom="ESAT du Ponant", type=TypeStructure.ESAT,
                                     code_postal="59000"))
    ea = _add(session, m.Structure(code=f"EA-{n}", nom="EA des Flandres", type=TypeStructure.EA, code_postal="59000"))
    agrement_esat = _add(session, m.AgrementEsat(structure_id=esat.id, numero=f"FIN-{n}", places=40,
                                                 iban="FR1420041010050500013M02606"))
    garantie = _add(session, m.DeclarationGarantie(esat_id=esat.id, periode=date(2025, 3, 1), nb_travailleurs=12,
                                                   etp=Decimal("10"), aide_au_poste=Decimal("9135.13"),
                                                   cotisations_obligatoires=Decimal("850.00"), prevoyance=Decimal("0"),
                                                   formation=Decimal("0"), montant=Decimal("9985.13")))
    dgf = _add(session, m.DotationDGF(esat_id=esat.id, exercice=2025, montant=Decimal("120000.00"), nb_versements=12,
                                      fixee_at=datetime(2024, 12, 15, 9, 0)))
    versement = _add(session, m.VersementDGF(dotation_id=dgf.id, rang=1, periode=date(2025, 1, 1),
                                             montant=Decimal("10000.00")))
    decl_ea = _add(session, m.DeclarationEA(ea_id=ea.id, periode=date(2025, 3, 1), effectif_total=20, effectif_th=17,
                                            postes_etp=Decimal("15"), montant=Decimal("21621.60")))
    partner_user = _add(session, m.Compte(login=f"partenaire{n}", email="p@example.fr", nom="Part", prenom="Ner",
                                          role=Role.PARTENAIRE, password_hash=hash_password("x"),
                                          must_change_password=False))
    habilitation = _add(session, m.CompteEtablissement(compte_id=partner_user.id, etablissement_id=etab.id,
                                                       role=RoleEtablissement.CONTACT_PRINCIPAL))
    demande = _add(session, m.DemandeHabilitation(etablissement_id=etab.id, demandeur_id=partner_user.id,
                                                  login=f"ajout{n}", nom="Ajouté", prenom="Paul",
                                                  email="ajout@example.fr"))
    inscription = _add(session, m.DemandeCreationCompte(
        siret="73282932000082", raison_sociale="Pâtisserie Roubaisienne", libelle_voie="3 rue du Moulin",
        code_postal="59100", ville="Roubaix", email_etablissement="contact@patisserie.example.fr",
        telephone_etablissement="0320123456", effectif=4, contact_nom="Lemaire", contact_prenom="Élodie",
        contact_email="elodie@patisserie.example.fr", contact_telephone="0320654321",
        question_secrete="Dans quelle rue avez-vous grandi ?", reponse_secrete_hash=hash_password("rue"),
        cgu_acceptees_at=datetime(2025, 6, 1, 9, 0), deposee_at=datetime(2025, 6, 1, 9, 0)))
    mail = _add(session, m.MailOutbox(cle=f"mail-{n}", destinataire="jeune@example.fr", template="allocation_refusee",
                                      sujet="Votre allocation", statut=MailStatut.ECHEC, tentatives=3,
                                      derniere_erreur="SMTP 451"))
    job = _add(session, m.JobOutbox(cle=f"job-{n}", fonction="backoffice.jobs.mail.send_pending", file="mail"))
    bulk = _add(session, m.BulkRun(workflow="allocation", transition="valider", actor_id=ref.comptes["siege"].id,
                                   ids=[1, 2, 3], total=3, traites=3, modifies=2, refus={"R43": 1}))
    audit = _add(session, m.AuditEvent(actor_id=ref.comptes["siege"].id, entity="allocation", entity_id=1,
                                       action="valider", from_status="soumise", to_status="validee_siege",
                                       bulk_run_id=bulk.id))
    calendrier = _add(session, m.CalendrierPaiement(dispositif_id=ref.dispositifs["CEJ"].id, jours="1,15",
                                                    commentaire="R41 : le 1er ou le 15"))
    session.commit()
    from backoffice.audit_chain import sceller
    sceller(session)  # (already sealed after the commit when AUDIT_SEAL_AFTER_COMMIT is on)
    session.commit()
    sceau = session.query(m.AuditSceau).order_by(m.AuditSceau.id.desc()).first()

    shared = {
        "declaration_partenaire": (decl.id, "Espace de rencontre Lille"), "lieu_accueil": (lieu.id, "Lieu Wazemmes"),
        "ligne_activite": (ligne.id, "Lieu Wazemmes"), "anomalie": (anomalie.id, "Heures en baisse"),
        "habilitation_afas": (habilitation.id, f"er-echantillon{n}"),
        "item_annuel_afas": (item.id, "Donnée annuelle échantillon"),
        "etablissement": (etab.id, "73282932000074"), "autorisation_ap": (auto.id, auto.numero),
        "salarie": (salarie.id, "Lefebvre"), "demande_indemnisation": (di.id, auto.numero),
        "ligne_di": (ligne_di.id, "LEFEBVRE"), "convention_nacre": (conv.id, conv.numero),
        "poste_adulte_relais": (poste.id, poste.numero_convention), "contrat_service_civique": (sc.id, sc.numero),
        "agrement_service_civique": (agrement_sc.id, f"AG-{n}"), "mois_service_civique": (mois_sc.id, sc.numero),
        "agrement_esat": (agrement_esat.id, f"FIN-{n}"), "declaration_garantie": (garantie.id, "ESAT du Ponant"),
        "dotation_dgf": (dgf.id, "ESAT du Ponant"), "versement_dgf": (versement.id, "ESAT du Ponant"),
        "declaration_ea": (decl_ea.id, "EA des Flandres"),
        "etat_activite_nacre": (etat_nacre.id, conv.numero), "expertise_nacre": (expertise.id, "Cabinet Echantillon"),
        "declaration_adulte_relais": (decl_ar.id, poste.numero_convention),
        # partners' own grids (NACRE, adultes-relais): closed to every staff role
        "paiement_programme": (1, "—"), "reversement_programme": (1, "—"), "reversement_esat": (1, "—"),
        "structure": (ref.nord.id, ref.nord.nom), "dispositif": (ref.dispositifs["CEJ"].id, "CEJ"),
        "motif_sortie": (ref.dispositifs["CEJ"].motifs_sortie[0].id, ref.dispositifs["CEJ"].motifs_sortie[0].libelle),
        "compte": (ref.comptes["conseiller"].id, "conseiller"), "compte_etablissement": (habilitation.id, "partenaire"),
        "demande_habilitation": (demande.id, f"ajout{n}"),
        "demande_creation_compte": (inscription.id, "73282932000082"),
        "mail_outbox": (mail.id, "jeune@example.fr"), "job_outbox": (job.id, "send_pending"),
        "audit_event": (audit.id, "valider"), "bulk_run": (bulk.id, "valider"),
        "calendrier_paiement": (calendrier.id, "R41 : le 1er ou le 15"),
        # no block when another transaction of the server held the xmin back (a busy shared PostgreSQL)
        "audit_sceau": (sceau.id, sceau.hash) if sceau is not None else (None, None),
    }
    for endpoint, (ident, text) in shared.items():
        sample.ids[endpoint] = (ident, None)
        sample.texts[endpoint] = (text, None)
    sample.ids["structure"] = (ref.nord.id, ref.sud.id)
    sample.texts["structure"] = (ref.nord.nom, ref.sud.nom)
    return sample
