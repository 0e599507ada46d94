# cli_exit.cmake — run settlec with ARGS and require exit status EXPECT and,
# if given, that stderr contains MATCH. Run with cmake -DSETTLEC= -DARGS=
# -DEXPECT= [-DMATCH=] -P cli_exit.cmake.
execute_process(COMMAND ${SETTLEC} ${ARGS} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                ERROR_VARIABLE err)
if(NOT rc STREQUAL EXPECT)
  message(FATAL_ERROR "settlec ${ARGS}: exit ${rc}, expected ${EXPECT}\n${out}\n${err}")
endif()
if(DEFINED MATCH AND NOT err MATCHES "${MATCH}")
  message(FATAL_ERROR "settlec ${ARGS}: stderr lacks '${MATCH}':\n${err}")
endif()
