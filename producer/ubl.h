/* ubl.h: UBL 2.1 Invoice and CreditNote documents into ledger events. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reads EN 16931 / Peppol BIS 3 documents (and national variants) with
 * libxml2 and XPath over the UBL namespaces, never by text matching:
 *
 *   invoice id        cbc:ID
 *   issue date        cbc:IssueDate
 *   due date          cbc:DueDate (explicit), else the payment terms' or
 *                     payment means' cbc:PaymentDueDate (payment terms),
 *                     else none; the event says which
 *   amount            cac:LegalMonetaryTotal/cbc:PayableAmount and its
 *                     currencyID (else cbc:DocumentCurrencyCode)
 *   buyer             cac:AccountingCustomerParty/cac:Party: id from
 *                     PartyIdentification, EndpointID or the legal or tax
 *                     company id; name, phone, e-mail, country
 *   payment means     the first cac:PaymentMeans: IBAN (payee account id),
 *                     BIC, account name, cbc:PaymentID
 *
 * A document becomes one InvoiceUpserted (credit notes and payable
 * amounts <= 0 flagged not dunnable) dated at 12:00 UTC of its issue
 * date; a buyer with a telephone also yields a CustomerUpserted with the
 * number in E.164 (region: the buyer's country, else the default), opt-in
 * unknown. A document missing what an invoice needs is rejected with the
 * XPath of what is missing; a buyer phone that is not valid rejects only
 * the customer record, the invoice is still imported.
 *
 * Documents are at most UBL_FILE_MAX bytes; entities and network access
 * are off in the parser.
 */
#ifndef DUNNING_PRODUCER_UBL_H
#define DUNNING_PRODUCER_UBL_H

#include <stddef.h>

struct import_options;
struct sink;

#define UBL_FILE_MAX (32 * 1024 * 1024)

/* Imports one UBL document. Returns 0 when the file was handled (the
 * document may have been rejected: see the sink), DN_ERR_IO if it cannot
 * be read. */
int ubl_import_file(const char *path, const struct import_options *opts,
		    struct sink *sink, char *err, size_t errlen);

#endif
