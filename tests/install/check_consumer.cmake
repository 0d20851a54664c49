# Installs dispatch into a temporary prefix, then configures, builds and runs examples/consumer
# against it with find_package(dispatch): the installed package must be usable as documented.
# The installed headers are only public ones: none names a dependency linked privately.
function(check_installed_headers prefix)
  file(GLOB_RECURSE headers "${prefix}/include/dispatch/*.hpp")
  if(NOT headers)
    message(FATAL_ERROR "no headers installed under ${prefix}/include/dispatch")
  endif()
  foreach(header ${headers})
    file(STRINGS ${header} private_includes REGEX "#include <(rocksdb|curl|boost)/")
    if(private_includes)
      message(FATAL_ERROR "installed header ${header} includes a private dependency: ${private_includes}")
    endif()
  endforeach()
  foreach(internal persistence/store_impl.hpp persistence/backup_impl.hpp persistence/keys.hpp
                   persistence/codec.hpp
                   config/option_table.hpp)
    if(EXISTS "${prefix}/include/dispatch/${internal}")
      message(FATAL_ERROR "internal header installed: ${internal}")
    endif()
  endforeach()
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}/prefix") # a stale install would hide a header no longer installed
foreach(step
    "${CMAKE_COMMAND};--install;${BUILD_DIR};--prefix;${WORK_DIR}/prefix"
    "${CMAKE_COMMAND};-S;${SOURCE_DIR}/examples/consumer;-B;${WORK_DIR}/build;-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix;-DCMAKE_BUILD_TYPE=RelWithDebInfo"
    "${CMAKE_COMMAND};--build;${WORK_DIR}/build"
    "${WORK_DIR}/build/consumer")
  execute_process(COMMAND ${step} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "step failed (${rc}): ${step}\n${out}\n${err}")
  endif()
  if(step MATCHES "--install")
    check_installed_headers("${WORK_DIR}/prefix")
  endif()
endforeach()
message(STATUS "installed package works: ${out}")
