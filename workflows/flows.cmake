# flows.cmake — compile the shipped flows at build time (included by
# workflows/CMakeLists.txt once the settlec target exists; `flow_srcs`
# holds the .flow files). Each flow yields NAME.pb (the Program), NAME.json,
# NAME.dot and NAME.hash in the build tree, plus NAME.svg when Graphviz's
# `dot` is installed. Shipped flows must compile without warnings.
find_program(SETTLE_DOT_EXE dot)
set(flow_outputs)
foreach(src ${flow_srcs})
  get_filename_component(name ${src} NAME_WE)
  set(base ${CMAKE_CURRENT_BINARY_DIR}/${name})
  add_custom_command(
    OUTPUT ${base}.pb ${base}.json ${base}.dot ${base}.hash
    COMMAND settlec --Werror -o ${base}.pb --json ${base}.json --dot ${base}.dot --hash
            ${src} > ${base}.hash
    DEPENDS settlec ${src}
    COMMENT "settlec ${name}.flow"
    VERBATIM)
  list(APPEND flow_outputs ${base}.pb ${base}.json ${base}.dot ${base}.hash)
  if(SETTLE_DOT_EXE)
    add_custom_command(
      OUTPUT ${base}.svg
      COMMAND ${SETTLE_DOT_EXE} -Tsvg ${base}.dot -o ${base}.svg
      DEPENDS ${base}.dot
      COMMENT "dot ${name}.svg"
      VERBATIM)
    list(APPEND flow_outputs ${base}.svg)
  endif()
endforeach()
add_custom_target(settle_workflows ALL DEPENDS ${flow_outputs})
