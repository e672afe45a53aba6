// phone.cc: phone numbers to E.164 through libphonenumber (C wrapper).
// SPDX-License-Identifier: Apache-2.0
#include "phone.h"

extern "C" {
#include "error.h"
}

#include <phonenumbers/logger.h>
#include <phonenumbers/phonenumberutil.h>

#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>

using i18n::phonenumbers::NullLogger;
using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

namespace
{

// Longest input accepted; anything longer is not a phone number.
const size_t kInputMax = 64;

// The library's singleton, with its own logging silenced: lower layers of
// the product never print.
const PhoneNumberUtil &util()
{
	static std::once_flag once;
	PhoneNumberUtil *instance = PhoneNumberUtil::GetInstance();

	std::call_once(once,
		       [instance] { instance->SetLogger(new NullLogger()); });
	return *instance;
}

const char *parse_reason(PhoneNumberUtil::ErrorType error)
{
	switch (error) {
	case PhoneNumberUtil::INVALID_COUNTRY_CODE_ERROR:
		return "unknown country code, or national and no default "
		       "region";
	case PhoneNumberUtil::NOT_A_NUMBER:
		return "not a phone number";
	case PhoneNumberUtil::TOO_SHORT_AFTER_IDD:
		return "too short after the international prefix";
	case PhoneNumberUtil::TOO_SHORT_NSN:
		return "too short";
	case PhoneNumberUtil::TOO_LONG_NSN:
		return "too long";
	default:
		return "cannot be parsed";
	}
}

const char *possible_reason(PhoneNumberUtil::ValidationResult result)
{
	switch (result) {
	case PhoneNumberUtil::INVALID_COUNTRY_CODE:
		return "unknown country calling code";
	case PhoneNumberUtil::TOO_SHORT:
		return "too short for its region";
	case PhoneNumberUtil::TOO_LONG:
		return "too long for its region";
	case PhoneNumberUtil::INVALID_LENGTH:
		return "wrong length for its region";
	case PhoneNumberUtil::IS_POSSIBLE_LOCAL_ONLY:
		return "a local number without its area code";
	default:
		return "not a valid number for its region";
	}
}

int copy_out(const std::string &value, char *out, size_t len)
{
	if (value.size() + 1 > len)
		return DN_ERR_TOO_LARGE;
	std::memcpy(out, value.c_str(), value.size() + 1);
	return DN_OK;
}

// Whether input holds an ASCII letter. libphonenumber reads letters as
// keypad digits (vanity numbers, "ABC" is 222), so a mistyped number would
// become someone else's; extensions and "tel:" are not phones to message.
// Text without any digit is left to libphonenumber ("not a number").
bool has_letters(const char *input)
{
	bool letter = false, digit = false;

	for (; *input; input++) {
		if ((*input >= 'a' && *input <= 'z') ||
		    (*input >= 'A' && *input <= 'Z'))
			letter = true;
		else if (*input >= '0' && *input <= '9')
			digit = true;
	}
	return letter && digit;
}

} // namespace

extern "C" int phone_normalize(const char *input, const char *default_region,
			       char *out, size_t len, char *err, size_t errlen)
{
	const PhoneNumberUtil &phone_util = util();
	PhoneNumber number;
	std::string region = default_region ? default_region : "";
	std::string e164;

	if (!input || !*input)
		return dn_fail(DN_ERR_INVALID, err, errlen, "phone is empty");
	if (std::strlen(input) > kInputMax)
		return dn_fail(DN_ERR_INVALID, err, errlen,
			       "phone longer than %zu bytes", kInputMax);
	if (has_letters(input))
		return dn_fail(DN_ERR_INVALID, err, errlen,
			       "phone has letters");
	if (region.empty())
		region = "ZZ"; // unknown: only international input parses

	// Parse, then insist on validity for the region, not mere length.
	PhoneNumberUtil::ErrorType error =
		phone_util.Parse(input, region, &number);
	if (error != PhoneNumberUtil::NO_PARSING_ERROR)
		return dn_fail(DN_ERR_INVALID, err, errlen, "phone %s",
			       parse_reason(error));
	if (!phone_util.IsValidNumber(number))
		return dn_fail(
			DN_ERR_INVALID, err, errlen, "phone %s",
			possible_reason(
				phone_util.IsPossibleNumberWithReason(number)));

	phone_util.Format(number, PhoneNumberUtil::E164, &e164);
	return copy_out(e164, out, len);
}

extern "C" int phone_example_mobile(const char *region, char *out, size_t len)
{
	const PhoneNumberUtil &phone_util = util();
	PhoneNumber number;
	std::string e164;

	if (!region || !phone_util.GetExampleNumberForType(
			       region, PhoneNumberUtil::MOBILE, &number))
		return DN_ERR_INVALID;
	phone_util.Format(number, PhoneNumberUtil::E164, &e164);
	return copy_out(e164, out, len);
}

extern "C" int phone_region(const char *e164, char *out, size_t len)
{
	const PhoneNumberUtil &phone_util = util();
	PhoneNumber number;
	std::string region;

	if (!e164 || phone_util.Parse(e164, "ZZ", &number) !=
			     PhoneNumberUtil::NO_PARSING_ERROR)
		return DN_ERR_INVALID;
	phone_util.GetRegionCodeForNumber(number, &region);
	if (region == "ZZ")
		return DN_ERR_INVALID;
	return copy_out(region, out, len);
}

extern "C" int phone_region_supported(const char *region)
{
	if (!region || !*region)
		return 0;
	return util().GetCountryCodeForRegion(region) != 0;
}
