# SettleDeps.cmake — find every external dependency or stop with the Debian
# package that provides it. Each dependency becomes an imported target
# settle::<name> so targets link by name, never by raw flags.
find_package(PkgConfig)
if(NOT PKG_CONFIG_FOUND)
  message(FATAL_ERROR "pkg-config not found. Install it: apt-get install -y pkg-config")
endif()

# settle_require_pkg(<target> <pkg-config module> <debian package>)
function(settle_require_pkg target module debpkg)
  pkg_check_modules(${target} QUIET IMPORTED_TARGET GLOBAL ${module})
  if(NOT ${target}_FOUND)
    message(FATAL_ERROR
      "${module} not found (pkg-config module '${module}'). "
      "Install it: apt-get install -y ${debpkg}")
  endif()
  add_library(settle::${target} ALIAS PkgConfig::${target})
endfunction()

settle_require_pkg(pq        libpq          libpq-dev)
settle_require_pkg(curl      libcurl        libcurl4-openssl-dev)
settle_require_pkg(jansson   jansson        libjansson-dev)
settle_require_pkg(protobufc libprotobuf-c  libprotobuf-c-dev)
settle_require_pkg(check     check          check)
settle_require_pkg(mhd       libmicrohttpd  libmicrohttpd-dev)
settle_require_pkg(crypto    libcrypto      libssl-dev)

# libev ships no pkg-config file on Debian 12.
find_path(EV_INCLUDE_DIR ev.h)
find_library(EV_LIBRARY ev)
if(NOT EV_INCLUDE_DIR OR NOT EV_LIBRARY)
  message(FATAL_ERROR "libev not found (ev.h / libev.so). Install it: apt-get install -y libev-dev")
endif()
add_library(settle_ev INTERFACE)
target_include_directories(settle_ev INTERFACE ${EV_INCLUDE_DIR})
target_link_libraries(settle_ev INTERFACE ${EV_LIBRARY})
add_library(settle::ev ALIAS settle_ev)

find_program(PROTOC_C protoc-c)
if(NOT PROTOC_C)
  message(FATAL_ERROR "protoc-c not found. Install it: apt-get install -y protobuf-c-compiler")
endif()

find_package(Threads REQUIRED)
