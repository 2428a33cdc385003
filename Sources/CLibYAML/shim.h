// libyaml from Debian's libyaml-dev: CDI spec files written as YAML are read with its event
// parser (RuntimeCore/CDI/YAMLReader.swift), without Foundation.
#include <yaml.h>
