# Makefile: build, test, benchmark and demo the product. See README.md.
#
#   make            release build of every program into build/release/bin
#   make test       sanitizer build, starts Redis and the local broker, runs
#                   every test, prints "N passed, N failed"
#   make demo       the end-to-end demo on the local stack
#   make bench      benchmarks with figures
#   make deps       installs the Debian packages the build needs
#
# Layout: lib/ is the shared library (libdunning.a); every folder with a
# main.c is a program, bin/dunning-<folder>, whose other sources form
# lib<folder>.a so tests can link them. tests/unit and tests/integration
# hold one cmocka program per test_*.c file.

MODE ?= release
BUILD := build/$(MODE)
GEN := build/gen

PKGS := rdkafka hiredis libprotobuf-c libcurl libmicrohttpd jansson openssl \
	icu-uc icu-i18n icu-io yaml-0.1 libxml-2.0
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

CC ?= cc
CXX ?= c++
WARNINGS := -Wall -Wextra -Wshadow -Wformat=2 -Werror
CPPFLAGS += -D_DEFAULT_SOURCE -D_XOPEN_SOURCE=700 -Ilib -I$(GEN) $(PKG_CFLAGS)
CFLAGS := -std=c11 $(WARNINGS) -g -MMD -MP
CXXFLAGS := -std=c++17 $(WARNINGS) -g -MMD -MP
LDLIBS := $(PKG_LIBS) -lphonenumber -lpthread -lm

ifeq ($(MODE),test)
SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
CFLAGS += -O1 $(SANITIZE)
CXXFLAGS += -O1 $(SANITIZE)
LDFLAGS += $(SANITIZE)
else
CFLAGS += -O2
CXXFLAGS += -O2
endif

# ---------------------------------------------------------------------------
# Sources

PROTOS := $(wildcard proto/dunning/v1/*.proto)
PROTO_C := $(patsubst proto/%.proto,$(GEN)/%.pb-c.c,$(PROTOS))
PROTO_H := $(PROTO_C:.c=.h)
PROTO_OBJS := $(patsubst $(GEN)/%.c,$(BUILD)/gen/%.o,$(PROTO_C))

COMPONENTS := $(patsubst %/main.c,%,$(wildcard */main.c))
PROGRAMS := $(addprefix $(BUILD)/bin/dunning-,$(COMPONENTS))

LIB_SRCS := $(wildcard lib/*.c) $(wildcard lib/*.cc)
LIB_OBJS := $(patsubst %,$(BUILD)/%.o,$(basename $(LIB_SRCS))) $(PROTO_OBJS)
LIBDUNNING := $(BUILD)/libdunning.a

# Sources of component $(1) other than its main, Lua scripts included.
component_srcs = $(filter-out $(1)/main.c,$(wildcard $(1)/*.c $(1)/*.cc))
component_lua = $(patsubst %.lua,$(GEN)/%_lua.c,$(filter-out %/prelude.lua,\
	$(wildcard $(1)/*.lua)))
component_objs = $(patsubst %,$(BUILD)/%.o,$(basename \
	$(call component_srcs,$(1)))) \
	$(patsubst $(GEN)/%.c,$(BUILD)/gen/%.o,$(call component_lua,$(1)))
COMPONENT_LIBS := $(foreach c,$(COMPONENTS),$(call component_lib,$(c)))

UNIT_TESTS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
INTEGRATION_TESTS := $(patsubst tests/%.c,$(BUILD)/tests/%,\
	$(wildcard tests/integration/test_*.c))
TEST_SUPPORT := $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/support/*.c))

# ---------------------------------------------------------------------------
# Targets

.SECONDARY:

.PHONY: all programs tests test demo bench deps format format-check lint \
	clean stack
all: programs

programs: $(PROGRAMS)

tests: $(PROGRAMS) $(UNIT_TESTS) $(INTEGRATION_TESTS)

test: deps
	$(MAKE) MODE=test tests
	scripts/run-tests.sh build/test $(T)

demo: DEMO_ARGS = $(if $(DATA),--data "$(DATA)") \
	$(if $(CUSTOMERS),--customers "$(CUSTOMERS)")
demo: deps
	$(MAKE) MODE=release programs
	scripts/demo.sh $(strip $(DEMO_ARGS))

bench: deps
	$(MAKE) MODE=release programs
	scripts/bench.sh build/release

deps:
	@scripts/deps.sh

format:
	clang-format -i $(shell git ls-files '*.c' '*.h' '*.cc')

format-check:
	@scripts/format-check.sh

lint:
	@scripts/lint.sh

clean:
	rm -rf build

# ---------------------------------------------------------------------------
# Rules

$(GEN)/%.pb-c.c $(GEN)/%.pb-c.h: proto/%.proto
	@mkdir -p $(GEN)
	protoc-c --proto_path=proto --c_out=$(GEN) $<

# Lua scripts become C string constants named <file>_lua.
$(GEN)/%_lua.c: %.lua scripts/lua2c.sh
	@mkdir -p $(dir $@)
	scripts/lua2c.sh $< $(notdir $*)_lua > $@

# A folder's prelude.lua (local functions its scripts share) is put in
# front of each script of the folder; the rule with the shorter stem wins.
define prelude_rules
$(GEN)/$(1)/%_lua.c: $(1)/%.lua $(1)/prelude.lua scripts/lua2c.sh
	@mkdir -p $$(dir $$@)
	scripts/lua2c.sh $$< $$(notdir $$*)_lua $(1)/prelude.lua > $$@
endef
$(foreach d,$(patsubst %/prelude.lua,%,$(wildcard */prelude.lua)),\
	$(eval $(call prelude_rules,$(d))))

# Generated protobuf code is not ours to warn about beyond -Wall.
$(BUILD)/gen/%.pb-c.o: $(GEN)/%.pb-c.c $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(filter-out -Wextra -Wshadow,$(CFLAGS)) -c -o $@ $<

$(BUILD)/gen/%.o: $(GEN)/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/%.o: %.c $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/%.o: %.cc
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -c -o $@ $<

$(LIBDUNNING): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

# lib<component>.a, or nothing for a component that is only its main.c.
component_lib = $(if $(call component_objs,$(1)),$(BUILD)/lib$(1).a)

define component_rules
$(BUILD)/lib$(1).a: $(call component_objs,$(1))
	@mkdir -p $$(dir $$@)
	@rm -f $$@
	ar rcs $$@ $$^

$(BUILD)/bin/dunning-$(1): $(BUILD)/$(1)/main.o $(call component_lib,$(1)) \
		$(LIBDUNNING)
	@mkdir -p $$(dir $$@)
	$(CXX) $(LDFLAGS) -o $$@ $$^ $(LDLIBS)
endef
$(foreach c,$(COMPONENTS),$(eval $(call component_rules,$(c))))

# A test named test_<component>_*.c links that component's library.
test_component = $(filter $(word 2,$(subst _, ,$(notdir $(1)))),$(COMPONENTS))

define test_rules
$(BUILD)/tests/$(1): tests/$(1).c $(TEST_SUPPORT) \
		$(foreach c,$(call test_component,$(1)),$(call component_lib,$(c))) \
		$(LIBDUNNING) $(PROTO_H)
	@mkdir -p $$(dir $$@)
	$(CC) $(CPPFLAGS) -Itests/support \
		$(addprefix -I,$(call test_component,$(1))) $(CFLAGS) \
		-c -o $$@.o $$<
	$(CXX) $(LDFLAGS) -o $$@ $$@.o $(TEST_SUPPORT) \
		$(foreach c,$(call test_component,$(1)),$(call component_lib,$(c))) \
		$(LIBDUNNING) $(LDLIBS) $(CMOCKA_LIBS)
endef
$(foreach t,$(patsubst tests/%.c,%,$(wildcard tests/unit/test_*.c \
	tests/integration/test_*.c)),$(eval $(call test_rules,$(t))))

-include $(shell find build -name '*.d' 2>/dev/null)
