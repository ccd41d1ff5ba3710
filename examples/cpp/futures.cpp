// A small C++17 RAII wrapper over the C API: the pool is a std::unique_ptr with
// conveyor_pool_free as deleter, and each submission returns a std::future.
//   usage: futures FOLDER
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "conveyor.h"

namespace conveyor {

struct Output {
    std::string name, format;
    uint32_t width = 0, height = 0;
    std::vector<uint8_t> bytes;
};

struct Result {
    uint64_t job_id = 0;
    conveyor_result code = CONVEYOR_OK;
    std::string message, input_format;
    std::vector<Output> outputs;
    bool ok() const { return code == CONVEYOR_OK; }
};

class Error : public std::runtime_error {
   public:
    Error(conveyor_result code, const std::string& what) : std::runtime_error(what), code(code) {}
    conveyor_result code;
};

class Pool {
   public:
    explicit Pool(const std::string& config_json = "{}") : pool_(nullptr, &conveyor_pool_free) {
        conveyor_pool* raw = nullptr;
        conveyor_result rc = conveyor_pool_new(config_json.c_str(), &raw);
        if (rc != CONVEYOR_OK) throw Error(rc, conveyor_last_error_message());
        pool_.reset(raw);
    }

    // Blocks while the queue is full; the future is fulfilled on a pool thread.
    std::future<Result> submit(const std::vector<uint8_t>& bytes, const std::string& recipe_json = "") {
        auto promise = std::make_unique<std::promise<Result>>();
        std::future<Result> future = promise->get_future();
        conveyor_result rc = conveyor_pool_submit(pool_.get(), bytes.data(), bytes.size(),
                                                  recipe_json.empty() ? nullptr : recipe_json.c_str(), &Pool::on_done,
                                                  promise.get(), &Pool::free_promise, nullptr);
        if (rc != CONVEYOR_OK) throw Error(rc, conveyor_last_error_message());
        promise.release();  // now owned by the library until free_promise
        return future;
    }

    void shutdown() { conveyor_pool_shutdown(pool_.get()); }

   private:
    static void on_done(void* userdata, const conveyor_job_result* r) {
        Result res;
        res.job_id = r->job_id;
        res.code = r->code;
        if (r->message) res.message = r->message;
        if (r->input_format) res.input_format = r->input_format;
        for (size_t i = 0; i < r->output_count; i++) {
            const conveyor_output& o = r->outputs[i];
            res.outputs.push_back(Output{o.name, o.format, o.width, o.height,
                                         std::vector<uint8_t>(o.data, o.data + (o.data ? o.len : 0))});
        }
        static_cast<std::promise<Result>*>(userdata)->set_value(std::move(res));
    }
    static void free_promise(void* userdata) { delete static_cast<std::promise<Result>*>(userdata); }

    std::unique_ptr<conveyor_pool, decltype(&conveyor_pool_free)> pool_;
};

}  // namespace conveyor

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: " << argv[0] << " FOLDER\n";
        return 2;
    }
    try {
        conveyor::Pool pool(R"({"workers":2,"queue_capacity":4})");
        const std::string recipe = R"({"outputs":[{"name":"thumb","width":48,"height":48,"fit":"cover","format":"webp"}]})";
        std::vector<std::pair<std::string, std::future<conveyor::Result>>> jobs;
        for (const auto& entry : std::filesystem::directory_iterator(argv[1])) {
            if (!entry.is_regular_file()) continue;
            std::ifstream in(entry.path(), std::ios::binary);
            std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            jobs.emplace_back(entry.path().filename().string(), pool.submit(bytes, recipe));
        }
        int failed = 0;
        for (auto& [name, future] : jobs) {
            conveyor::Result r = future.get();
            if (r.ok()) {
                const auto& o = r.outputs.at(0);
                std::cout << "ok " << name << ": " << r.input_format << " -> " << o.format << " " << o.width << "x"
                          << o.height << " " << o.bytes.size() << " bytes\n";
            } else {
                failed++;
                std::cout << "failed " << name << ": " << conveyor_result_str(r.code) << "\n";
            }
        }
        std::cout << "done: " << jobs.size() << " jobs, " << failed << " failed\n";
    } catch (const conveyor::Error& e) {
        std::cerr << "conveyor error " << conveyor_result_str(e.code) << ": " << e.what() << "\n";
        return 1;
    }
    return 0;
}
